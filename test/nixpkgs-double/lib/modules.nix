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
        else throw "The option `${showOption loc}' was accessed but has no value defined. Try setting the option.";
    in
    {
      inherit isDefined mergedValue;
      inherit (filtered) highestPrio;
      defsFinal = ordered;
      optionalValue = if isDefined then { value = mergedValue; } else { };
    };

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

  # nixpkgs' mergeModules': walk the declarations; a name that no module declares is an
  # unmatched definition { file, prefix, value } (value as defined, properties not discharged,
  # so a `mkIf false` definition of an undeclared option is unmatched too, as in nixpkgs).
  evalTree = loc: decls: defs:
    let
      results = b.mapAttrs
        (n: decl:
          let cdefs = childDefs n defs; in
          if isOption decl then { matched = evalOptionValue (loc ++ [ n ]) decl cdefs; unmatched = [ ]; }
          else let r = evalTree (loc ++ [ n ]) decl (pushDownDefs (loc ++ [ n ]) cdefs); in
            { matched = r.matched; unmatched = map (u: u // { prefix = [ n ] ++ u.prefix; }) r.unmatched; })
        decls;
      undeclaredByName = b.zipAttrsWith (_: ds: ds) (map
        (d: b.mapAttrs (n: value: { inherit (d) file; prefix = [ n ]; inherit value; })
          (removeAttrs d.value (b.attrNames decls)))
        defs);
    in
    {
      matched = b.mapAttrs (_: r: r.matched) results;
      # by name, as nixpkgs lists them (the first one is the one the error names)
      unmatched = b.concatLists (b.attrValues (b.mapAttrs (_: r: r.unmatched) results // undeclaredByName));
    };

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
        options._module.check = lib.mkOption { type = lib.types.bool; default = check; internal = true; };
        # nixpkgs: definitions that no option matches are merged with this type (null: an error).
        options._module.freeformType = lib.mkOption {
          type = lib.types.nullOr (lib.types.uniq lib.types.attrs);
          default = null;
          internal = true;
        };
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

      # nixpkgs' unifyModuleSyntax: `meta` and `freeformType` become definitions of the options
      # `meta` and `_module.freeformType`; `disabledModules` is read and ignored (see README).
      normalize = file: key: m:
        let
          addMeta = c: if m ? meta then mkMerge [ c { meta = m.meta; } ] else c;
          addFreeformType = c: if m ? freeformType then mkMerge [ c { _module.freeformType = m.freeformType; } ] else c;
          badAttrs = removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "options" "config" "meta" "freeformType" ];
        in
        if m ? config || m ? options then
          if badAttrs != { } then
            throw "Module `${key}' has an unsupported attribute `${b.head (b.attrNames badAttrs)}'. This is caused by introducing a top-level `config' or `options' attribute. Add configuration attributes immediately on the top level instead, or move all of them (namely: ${toString (b.attrNames badAttrs)}) into the explicit `config' attribute."
          else {
            inherit file key;
            imports = m.imports or [ ];
            options = m.options or { };
            config = addFreeformType (addMeta (m.config or { }));
          }
        else {
          inherit file key;
          imports = m.imports or [ ];
          options = { };
          config = addFreeformType (removeAttrs m [ "_class" "_file" "key" "disabledModules" "imports" "freeformType" ]);
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
        (lib.imap0 (i: m: loadModule "<unknown-file>" "<module ${toString i}>" m)
          ([ internalModule ] ++ modules))).mods;

      declTree = mergeDeclTrees prefix (map (m: m.options) collected);
      defs = pushDownDefs prefix (map (m: { inherit (m) file; value = m.config; }) collected);
      merged = evalTree prefix declTree defs;
      options = merged.matched;
      declaredConfig = toConfig options;
      freeformType = declaredConfig._module.freeformType;
      # nixpkgs: unmatched definitions merged by the freeform type, declared values on top.
      config =
        if freeformType == null then declaredConfig
        else lib.recursiveUpdate
          (if merged.unmatched == [ ] then { } else freeformType.merge prefix (map
            (d: { inherit (d) file; value = lib.setAttrByPath d.prefix d.value; })
            merged.unmatched))
          declaredConfig;

      # nixpkgs lib/modules.nix, checkUnmatched (quoted):
      #   baseMsg = "The option `${optText}' does not exist. Definition values:${defText}";
      # with optText = showOption (prefix ++ firstDef.prefix), defText = showDefs [ firstDef ],
      # plus a hint when the module declares no options at all.
      checkUnmatched =
        if config._module.check && freeformType == null && merged.unmatched != [ ] then
          let
            firstDef = b.head merged.unmatched;
            baseMsg = "The option `${showOption (prefix ++ firstDef.prefix)}' does not exist. Definition values:${lib.showDefs [ firstDef ]}";
          in
          if b.attrNames options == [ "_module" ] then
            if showOption prefix == "" then
              throw "${baseMsg}\n\nIt seems as if you're trying to declare an option by placing it into `config' rather than `options'!\n"
            else
              throw "${baseMsg}\n\nHowever there are no options defined in `${showOption prefix}'. Are you sure you've\ndeclared your options properly? This can happen if you e.g. declared your options in `types.submodule'\nunder `config' rather than `options'.\n"
          else throw baseMsg
        else null;
      checked = b.seq checkUnmatched;

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
      # as in nixpkgs, reading any of these first checks that every definition has an option
      options = checked options;
      config = checked (removeAttrs config [ "_module" ]);
      _module = checked config._module;
      inherit extendModules type class;
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
}
// import ./modules-rename.nix { inherit lib mkMerge; }
