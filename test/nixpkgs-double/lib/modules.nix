# TEST DOUBLE of nixpkgs lib/modules.nix (see ../README.md for every known difference).
# Same properties (mkIf, mkMerge, mkOverride/mkDefault/mkForce, mkOrder), same push-down of
# properties into attribute sets (which is what keeps `config = mkIf (config.x == ...) { ... }`
# from recursing when the keys are static), same discharge / priority / type-merge pipeline.
{ lib }:
let
  b = builtins;
  inherit (lib) showOption isOption;

  defaultOverridePriority = 100;
  defaultOrderPriority = 1000;

  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkOrder = priority: content: { _type = "order"; inherit priority content; };

  typeOf = v: if b.isAttrs v then v._type or "" else "";

  # nixpkgs' pushDownProperties: make an attribute set out of a (possibly wrapped) definition,
  # wrapping every attribute in the properties found on the way.
  pushDownProperties = cfg:
    let t = typeOf cfg; in
    if t == "merge" then b.concatMap pushDownProperties cfg.contents
    else if t == "if" then map (b.mapAttrs (_: mkIf cfg.condition)) (pushDownProperties cfg.content)
    else if t == "override" then map (b.mapAttrs (_: mkOverride cfg.priority)) (pushDownProperties cfg.content)
    else [ cfg ];

  dischargeProperties = def:
    let t = typeOf def; in
    if t == "merge" then b.concatMap dischargeProperties def.contents
    else if t == "if" then
      if b.isBool def.condition then
        (if def.condition then dischargeProperties def.content else [ ])
      else throw "‘mkIf’ called with a non-Boolean condition"
    else [ def ];

  filterOverrides' = defs:
    let
      getPrio = def: if typeOf def.value == "override" then def.value.priority else defaultOverridePriority;
      highestPrio = b.foldl' (prio: def: let p = getPrio def; in if p < prio then p else prio) 9999 defs;
      strip = def: if typeOf def.value == "override" then def // { value = def.value.content; } else def;
    in
    {
      inherit highestPrio;
      values = b.concatMap (def: if getPrio def == highestPrio then [ (strip def) ] else [ ]) defs;
    };

  sortProperties = defs:
    let
      strip = def:
        if typeOf def.value == "order"
        then def // { value = def.value.content; inherit (def.value) priority; }
        else def;
    in
    map (d: removeAttrs d [ "priority" ])
      (b.sort (x: y: (x.priority or defaultOrderPriority) < (y.priority or defaultOrderPriority)) (map strip defs));

  mergeDefinitions = loc: type: defs:
    let
      discharged = b.concatMap
        (m: map (value: { inherit (m) file; inherit value; }) (dischargeProperties m.value))
        defs;
      filtered = filterOverrides' discharged;
      ordered =
        if b.any (def: typeOf def.value == "order") filtered.values
        then sortProperties filtered.values else filtered.values;
      isDefined = ordered != [ ];
      checked = map
        (def:
          if type.check def.value then def
          else throw "A definition for option `${showOption loc}' is not of type `${type.description}'. Definition values:\n${lib.showDefs [ def ]}")
        ordered;
      mergedValue =
        if isDefined then type.merge loc checked
        else throw "The option `${showOption loc}' is used but not defined.";
    in
    {
      inherit isDefined mergedValue;
      inherit (filtered) highestPrio;
      defsFinal = ordered;
      optionalValue = if isDefined then { value = mergedValue; } else { };
    };

  # nixpkgs: isAttrs, not a derivation, and not one of the property wrappers.
  isAttrsLike = v:
    let t = typeOf v; in
    if t == "if" || t == "override" || t == "order" then isAttrsLike v.content
    else if t == "merge" then b.all isAttrsLike v.contents
    else b.isAttrs v && t == "" && !(lib.isDerivation v) && !(v ? outPath);

  pushDownDefs = loc: defs: b.concatMap
    (def: map
      (value:
        if b.isAttrs value then { inherit (def) file; inherit value; }
        else throw "The option `${showOption loc}' (a set of options) has a definition in `${def.file}' that is not an attribute set.")
      (pushDownProperties def.value))
    defs;

  childDefs = name: defs: b.concatMap
    (d: if d.value ? ${name} then [ { inherit (d) file; value = d.value.${name}; } ] else [ ])
    defs;

  # Lenient stand-in for nixpkgs' "The option `x' does not exist" (see README): undeclared
  # leaves merge like this (lists concatenate, anything else must be equal).
  undeclaredType = lib.types.mkOptionType {
    name = "undeclared";
    merge = loc: defs:
      if b.all (d: b.isList d.value) defs then b.concatMap (d: d.value) defs
      else lib.mergeEqualOption loc defs;
  };

  evalOptionValue = loc: opt: defs:
    let
      type = opt.type or lib.types.unspecified;
      defs' = (lib.optional (opt ? default)
        { file = "<default of ${showOption loc}>"; value = mkOverride 1500 opt.default; }) ++ defs;
      res = mergeDefinitions loc type defs';
      value = if (opt.apply or null) != null then opt.apply res.mergedValue else res.mergedValue;
    in
    opt // {
      inherit value loc type;
      inherit (res) isDefined highestPrio;
      definitions = map (d: d.value) res.defsFinal;
      files = lib.unique (map (d: d.file) res.defsFinal);
      rawDefinitions = defs;
    };

  # Walk the declaration tree and the definitions together.
  evalTree = loc: decls: defs:
    let
      names = b.attrNames (decls // b.listToAttrs
        (b.concatMap (d: map (n: { name = n; value = null; }) (b.attrNames d.value)) defs));
    in
    b.listToAttrs (map
      (n: {
        name = n;
        value =
          let
            cdefs = childDefs n defs;
            decl = decls.${n} or null;
          in
          if decl != null && isOption decl then evalOptionValue (loc ++ [ n ]) decl cdefs
          else if decl != null then evalTree (loc ++ [ n ]) decl (pushDownDefs (loc ++ [ n ]) cdefs)
          else evalUndeclared (loc ++ [ n ]) cdefs;
      })
      names);

  evalUndeclared = loc: defs:
    if defs != [ ] && b.all (d: isAttrsLike d.value) defs then
      let
        tree = evalTree loc { } (pushDownDefs loc defs);
        pushed = pushDownDefs loc defs;
      in
      # like attrsOf: attributes whose definitions are all mkIf false disappear
      lib.filterAttrs (n: _: b.concatMap (d: dischargeProperties d.value) (childDefs n pushed) != [ ]) tree
    else
      evalOptionValue loc { type = undeclaredType; _type = "option"; undeclared = true; } defs;

  mergeDeclTrees = loc: trees:
    let
      names = b.attrNames (b.foldl' (acc: t: acc // t) { } trees);
    in
    b.listToAttrs (map
      (n: {
        name = n;
        value =
          let
            subs = b.concatMap (t: if t ? ${n} then [ t.${n} ] else [ ]) trees;
            opts = b.filter isOption subs;
          in
          if opts == [ ] then mergeDeclTrees (loc ++ [ n ]) subs
          else if b.length subs == 1 then b.head subs
          else if b.length opts == b.length subs then combineOptions (loc ++ [ n ]) opts
          else throw "The option `${showOption (loc ++ [ n ])}' is declared both as an option and as a set of options.";
      })
      names);

  # nixpkgs allows re-declaring a submodule option to add options to it.
  combineOptions = loc: opts:
    let
      typed = b.filter (o: o ? type) opts;
      subs = b.filter (o: o.type ? submoduleModules) typed;
    in
    if b.length typed == b.length subs && subs != [ ] then
      b.foldl' (a: o: a // o) { } opts // {
        type = lib.types.submoduleWith {
          shorthandOnlyDefinesConfig = true;
          modules = b.concatMap (o: o.type.submoduleModules) subs;
        };
      }
    else throw "The option `${showOption loc}' is declared more than once (the double only merges submodule declarations).";

  toConfig = tree: b.mapAttrs (_: v: if isOption v then v.value else toConfig v) tree;

  # Module collection: imports are followed recursively (paths, functions, attrsets),
  # deduplicated by key (the path for imported files), as nixpkgs does with genericClosure.
  evalModules = evalArgs@{ modules, specialArgs ? { }, prefix ? [ ], class ? null, args ? { }, check ? true }:
    let
      internalModule = {
        _file = "<double: lib/modules.nix internal module>";
        key = "<double: lib/modules.nix internal module>";
        options._module.args = lib.mkOption {
          type = lib.types.lazyAttrsOf lib.types.raw;
          description = "Arguments passed to each module.";
        };
        options._module.check = lib.mkOption { type = lib.types.bool; default = true; internal = true; };
        config._module.args = {
          inherit extendModules;
          moduleType = type;
        } // args;
      };

      baseArgs = { inherit lib options config specialArgs; _prefix = prefix; _class = class; } // specialArgs;
      applyIfFunction = f:
        if b.isFunction f then
          f (baseArgs // b.mapAttrs (n: _: baseArgs.${n} or config._module.args.${n}) (b.functionArgs f))
        else f;

      normalize = file: key: m:
        if m ? config || m ? options then {
          inherit file key;
          imports = m.imports or [ ];
          options = m.options or { };
          config = m.config or { };
        } else {
          inherit file key;
          imports = m.imports or [ ];
          options = { };
          config = removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "meta" "freeformType" ];
        };

      loadModule = parentFile: fallbackKey: m:
        let
          isFile = b.isPath m || b.isString m;
          raw = if isFile then import m else m;
          file0 = if isFile then toString m else parentFile;
          applied = applyIfFunction raw;
          file = applied._file or file0;
          key = if isFile then toString m else applied.key or fallbackKey;
        in
        normalize (toString file) key applied;

      # depth-first, each module before its imports (nixpkgs' collectModules order)
      visit = st: mod:
        if st.seen ? ${mod.key} then st
        else b.foldl' visit
          { seen = st.seen // { ${mod.key} = true; }; mods = st.mods ++ [ mod ]; }
          (lib.imap0 (i: m: loadModule mod.file "${mod.key}:anon-${toString i}" m) mod.imports);
      collected = (b.foldl' visit { seen = { }; mods = [ ]; }
        (lib.imap0 (i: m: loadModule "<evalModules modules>" "<module ${toString i}>" m)
          ([ internalModule ] ++ modules))).mods;

      declTree = mergeDeclTrees prefix (map (m: m.options) collected);
      defs = pushDownDefs prefix (map (m: { inherit (m) file; value = m.config; }) collected);
      optionsTree = evalTree prefix declTree defs;
      options = optionsTree;
      config = toConfig optionsTree;

      extendModules = { modules ? [ ], specialArgs ? { }, prefix ? evalArgs.prefix or [ ] }:
        evalModules (evalArgs // {
          modules = evalArgs.modules ++ modules;
          specialArgs = (evalArgs.specialArgs or { }) // specialArgs;
          inherit prefix;
        });

      type = lib.types.mkOptionType {
        name = "submodule";
        check = x: b.isAttrs x || b.isFunction x || b.isPath x;
        merge = loc: defs: (extendModules {
          modules = map (def: { _file = def.file; imports = [ def.value ]; }) defs;
          prefix = loc;
        }).config;
      };
    in
    {
      inherit options config extendModules type;
      _module = config._module;
      class = class;
      _type = "configuration";
    };
in
{
  inherit mkIf mkMerge mkOverride mkOrder evalModules mergeDefinitions pushDownProperties
    dischargeProperties defaultOverridePriority defaultOrderPriority;
  defaultPriority = defaultOverridePriority;
  mkOptionDefault = mkOverride 1500;
  mkDefault = mkOverride 1000;
  mkImageMediaOverride = mkOverride 60;
  mkForce = mkOverride 50;
  mkVMOverride = mkOverride 10;
  mkBefore = mkOrder 500;
  mkAfter = mkOrder 1500;
  mkAliasDefinitions = option: mkMerge (map (d: d.value) (option.rawDefinitions or [ ]));
  mkRenamedOptionModule = from: to: { config, options, ... }:
    let fromOpt = lib.getAttrFromPath from options; in
    {
      options = lib.setAttrByPath from (lib.mkOption {
        description = "Alias of `${showOption to}'.";
        apply = _: lib.getAttrFromPath to config;
      });
      config = lib.setAttrByPath to (mkMerge (map (d: d.value) fromOpt.rawDefinitions));
    };
  mkRemovedOptionModule = optionName: replacementInstructions: { options, ... }: {
    options = lib.setAttrByPath optionName (lib.mkOption {
      apply = _: throw "The option `${showOption optionName}' can no longer be used since it's been removed. ${replacementInstructions}";
    });
  };
}
