# TEST DOUBLE of nixpkgs lib/types.nix (see ../README.md). Types carry `name`, `description`,
# `check` and `merge loc defs` as in nixpkgs; `defs` are { file, value } after mkIf/mkMerge
# discharge and priority filtering, exactly like nixpkgs' mergeDefinitions hands them over.
{ lib }:
let
  b = builtins;
  inherit (lib) mergeEqualOption mergeOneOption showOption showFiles;

  isStringLike = x: b.isString x || b.isPath x || (b.isAttrs x && (x ? outPath || x ? __toString));

  mkOptionType =
    { name, description ? name, check ? (_: true), merge ? lib.mergeDefaultOption
    , emptyValue ? { }, getSubOptions ? (_: { }), getSubModules ? null, substSubModules ? (_: null)
    , nestedTypes ? { }, descriptionClass ? null, deprecationMessage ? null, typeMerge ? null
    , functor ? null
    }:
    { _type = "option-type"; inherit name description check merge emptyValue getSubOptions getSubModules nestedTypes; };

  # per-attribute merge shared by attrsOf / lazyAttrsOf (nixpkgs pushes properties down first)
  attrDefs = loc: defs:
    b.zipAttrsWith (_: ds: ds)
      (b.concatMap (def: map (v: b.mapAttrs (_: value: { inherit (def) file; inherit value; }) v)
        (lib.modules.pushDownProperties def.value)) defs);

  types = rec {
    inherit mkOptionType isStringLike;
    isType = type: x: (x._type or "") == type;

    raw = mkOptionType { name = "raw"; merge = mergeOneOption; };
    unspecified = mkOptionType { name = "unspecified"; };
    anything = mkOptionType {
      name = "anything";
      description = "anything";
      merge = loc: defs:
        let
          getType = v: if b.isAttrs v && isStringLike v then "stringCoercibleSet" else b.typeOf v;
          commonType = b.foldl'
            (t: def: if getType def.value == t then t
              else throw "The option `${showOption loc}' has conflicting option types in ${showFiles (map (d: d.file) defs)}")
            (getType (b.head defs).value) defs;
          mergeFunction = {
            set = (attrsOf anything).merge;
            list = if b.length defs > 1
              then throw "The option `${showOption loc}' has conflicting definitions, in ${showFiles (map (d: d.file) defs)}."
              else (listOf anything).merge;
            lambda = loc: defs: arg: anything.merge (loc ++ [ "<function body>" ])
              (map (def: { inherit (def) file; value = def.value arg; }) defs);
          }.${commonType} or mergeEqualOption;
        in
        mergeFunction loc defs;
    };

    bool = mkOptionType { name = "bool"; description = "boolean"; check = b.isBool; merge = mergeEqualOption; };
    int = mkOptionType { name = "int"; description = "signed integer"; check = b.isInt; merge = mergeEqualOption; };
    ints = rec {
      between = lo: hi: mkOptionType {
        name = "intBetween"; description = "integer between ${toString lo} and ${toString hi} (both inclusive)";
        check = x: b.isInt x && x >= lo && x <= hi; merge = mergeEqualOption;
      };
      unsigned = mkOptionType { name = "unsignedInt"; description = "unsigned integer, meaning >=0"; check = x: b.isInt x && x >= 0; merge = mergeEqualOption; };
      positive = mkOptionType { name = "positiveInt"; description = "positive integer, meaning >0"; check = x: b.isInt x && x > 0; merge = mergeEqualOption; };
      u8 = between 0 255;
      u16 = between 0 65535;
      u32 = between 0 4294967295;
      s32 = between (-2147483648) 2147483647;
    };
    port = ints.u16;
    float = mkOptionType { name = "float"; description = "floating point number"; check = b.isFloat; merge = mergeEqualOption; };
    number = either int float;
    str = mkOptionType { name = "str"; description = "string"; check = b.isString; merge = mergeEqualOption; };
    nonEmptyStr = addCheck str (x: b.match "[ \t\n]*" x == null) // { name = "nonEmptyStr"; };
    singleLineStr = addCheck str (x: b.match ".*\n.*" x == null) // { name = "singleLineStr"; };
    strMatching = pattern: mkOptionType {
      name = "strMatching ${b.toJSON pattern}"; description = "string matching the pattern ${pattern}";
      check = x: b.isString x && b.match pattern x != null; merge = mergeEqualOption;
    };
    separatedString = sep: mkOptionType {
      name = "separatedString"; description = "strings concatenated with ${b.toJSON sep}";
      check = b.isString;
      merge = loc: defs: b.concatStringsSep sep (b.filter (x: x != "") (map (d: d.value) defs));
    };
    lines = separatedString "\n";
    commas = separatedString ",";
    envVar = separatedString ":";
    path = mkOptionType {
      name = "path"; description = "path";
      check = x: isStringLike x && b.substring 0 1 (toString x) == "/"; merge = mergeEqualOption;
    };
    pathInStore = path;
    package = mkOptionType {
      name = "package"; description = "package"; descriptionClass = "noun";
      check = x: lib.isDerivation x || b.isPath x;
      merge = mergeOneOption;
    };
    attrs = mkOptionType {
      name = "attrs"; description = "attribute set"; check = b.isAttrs;
      merge = loc: b.foldl' (res: def: res // def.value) { }; emptyValue = { };
    };
    functionTo = elemType: mkOptionType {
      name = "functionTo"; description = "function that evaluates to a(n) ${elemType.description}";
      check = b.isFunction;
      merge = loc: defs: fnArgs: elemType.merge (loc ++ [ "<function body>" ])
        (map (fn: { inherit (fn) file; value = fn.value fnArgs; }) defs);
    };

    listOf = elemType: mkOptionType {
      name = "listOf"; description = "list of ${elemType.description}";
      check = b.isList;
      merge = loc: defs:
        map (x: x.value) (b.filter (x: x ? value) (b.concatLists (lib.imap1
          (n: def: lib.imap1
            (m: def': (lib.modules.mergeDefinitions (loc ++ [ "[definition ${toString n}-entry ${toString m}]" ])
              elemType [ { inherit (def) file; value = def'; } ]).optionalValue)
            def.value)
          defs)));
      emptyValue = [ ];
      nestedTypes.elemType = elemType;
    };
    nonEmptyListOf = elemType: addCheck (listOf elemType) (l: l != [ ]);

    attrsOf = elemType: mkOptionType {
      name = "attrsOf"; description = "attribute set of ${elemType.description}";
      check = b.isAttrs;
      merge = loc: defs:
        b.mapAttrs (_: v: v.value) (lib.filterAttrs (_: v: v ? value)
          (b.mapAttrs (name: ds: (lib.modules.mergeDefinitions (loc ++ [ name ]) elemType ds).optionalValue)
            (attrDefs loc defs)));
      emptyValue = { };
      nestedTypes.elemType = elemType;
    };
    lazyAttrsOf = elemType: mkOptionType {
      name = "lazyAttrsOf"; description = "lazy attribute set of ${elemType.description}";
      check = b.isAttrs;
      merge = loc: defs:
        b.mapAttrs (name: ds:
          let r = lib.modules.mergeDefinitions (loc ++ [ name ]) elemType ds;
          in if r.isDefined then r.mergedValue else elemType.emptyValue.value or r.mergedValue)
          (attrDefs loc defs);
      emptyValue = { };
      nestedTypes.elemType = elemType;
    };

    uniq = unique { message = ""; };
    unique = { message }: type: type // { merge = mergeOneOption; };

    nullOr = elemType: mkOptionType {
      name = "nullOr"; description = "null or ${elemType.description}";
      check = x: x == null || elemType.check x;
      merge = loc: defs:
        let nrNulls = b.length (b.filter (def: def.value == null) defs); in
        if nrNulls == b.length defs then null
        else if nrNulls != 0 then
          throw "The option `${showOption loc}' is defined both null and not null, in ${showFiles (map (d: d.file) defs)}."
        else elemType.merge loc defs;
      emptyValue = { value = null; };
      nestedTypes.elemType = elemType;
    };

    either = t1: t2: mkOptionType {
      name = "either"; description = "${t1.description} or ${t2.description}";
      check = x: t1.check x || t2.check x;
      merge = loc: defs:
        let defList = map (d: d.value) defs; in
        if b.all t1.check defList then t1.merge loc defs
        else if b.all t2.check defList then t2.merge loc defs
        else mergeOneOption loc defs;
    };
    oneOf = ts: b.foldl' either (b.head ts) (b.tail ts);

    enum = values: mkOptionType {
      name = "enum";
      description = "one of ${b.concatStringsSep ", " (map b.toJSON values)}";
      check = x: b.elem x values;
      merge = mergeEqualOption;
    };

    addCheck = elemType: check: elemType // { check = x: elemType.check x && check x; };

    coercedTo = coercedType: coerceFunc: finalType: mkOptionType {
      name = "coercedTo"; description = "${finalType.description} or ${coercedType.description} convertible to it";
      check = x: (coercedType.check x && finalType.check (coerceFunc x)) || finalType.check x;
      merge = loc: defs: finalType.merge loc (map (def: def // {
        value = if finalType.check def.value then def.value
          else if coercedType.check def.value then coerceFunc def.value else def.value;
      }) defs);
    };

    # A submodule is a list of modules evaluated once per definition site (per attribute name
    # under attrsOf). `name` is the last element of the location, as in nixpkgs.
    submoduleWith = { modules, specialArgs ? { }, shorthandOnlyDefinesConfig ? false, description ? null, class ? null }:
      mkOptionType {
        name = "submodule";
        description = if description != null then description else "submodule";
        check = x: b.isAttrs x || b.isFunction x || b.isPath x;
        merge = loc: defs:
          (lib.modules.evalModules {
            inherit class;
            prefix = loc;
            specialArgs = { name = lib.last loc; } // specialArgs;
            modules = modules
              ++ [ { _module.args.name = lib.mkOptionDefault (lib.last loc); } ]
              ++ map (def:
                if shorthandOnlyDefinesConfig && b.isAttrs def.value
                then { _file = def.file; config = def.value; }
                else { _file = def.file; imports = [ def.value ]; }) defs;
          }).config;
        emptyValue = { value = { }; };
      } // { submoduleModules = modules; submoduleSpecialArgs = specialArgs; };
    submodule = modules: submoduleWith {
      shorthandOnlyDefinesConfig = true;
      modules = lib.toList modules;
    };

    deferredModule = mkOptionType {
      name = "deferredModule"; description = "module";
      check = x: b.isAttrs x || b.isFunction x || b.isPath x;
      merge = loc: defs: {
        imports = map (def: { _file = def.file; imports = [ def.value ]; }) defs;
      };
    };
  };
in
types
