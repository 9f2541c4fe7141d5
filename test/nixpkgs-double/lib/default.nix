# TEST DOUBLE of nixpkgs' `lib` (nixpkgs cannot be fetched on the test machine).
# It implements the subset of lib that migen, its tests and the example fleet use, with
# the same names, argument shapes and merge semantics as nixpkgs' lib/modules.nix and
# lib/types.nix. Every known difference is listed in ../README.md. Never ship this as nixpkgs.
let
  b = builtins;

  lib = attrsets // lists // strings // trivial // modules // options // asserts // {
    inherit types modules options generators asserts;
    inherit (types) mkOptionType isType;
    inherit (modules) evalModules;
    # lib.systems.elaborate is what nixpkgs.hostPlatform's `apply` uses.
    systems.elaborate = p: if b.isString p then { system = p; } else p // { system = p.system or "x86_64-linux"; };
    fakeHash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    fakeSha256 = "0000000000000000000000000000000000000000000000000000";
    # Only the licenses migen's package uses (same attribute shape as nixpkgs' lib.licenses).
    licenses.mit = { shortName = "mit"; spdxId = "MIT"; fullName = "MIT License"; free = true; };
    # Marker so tests can tell the double from the real thing.
    isNixpkgsTestDouble = true;
  };

  trivial = {
    id = x: x;
    const = x: _: x;
    flip = f: a: c: f c a;
    # nixpkgs 24.11: builtins.warn where Nix has it (2.23+), else a trace with the same words.
    warn = b.warn or (msg: v: b.trace "evaluation warning: ${msg}" v);
    showWarnings = warnings: res: lists.foldr (w: x: trivial.warn w x) res warnings;
    xor = x: y: (!x) != (!y);
    throwIf = cond: msg: v: if cond then throw msg else v;
    inherit (b) isFunction isBool isInt isString isList isAttrs isPath toString functionArgs
      seq deepSeq tryEval typeOf pathExists readFile toJSON fromJSON;
    versionAtLeast = v1: v2: b.compareVersions v1 v2 >= 0;
    versionOlder = v1: v2: b.compareVersions v2 v1 > 0;
    boolToString = x: if x then "true" else "false";
  };

  lists = {
    inherit (b) head tail length elem elemAt filter map concatLists concatMap genList sort
      all any foldl' partition;
    optional = cond: x: if cond then [ x ] else [ ];
    optionals = cond: xs: if cond then xs else [ ];
    toList = x: if b.isList x then x else [ x ];
    flatten = x: if b.isList x then b.concatMap lists.flatten x else [ x ];
    foldr = op: nul: list:
      let len = b.length list; go = n: if n == len then nul else op (b.elemAt list n) (go (n + 1));
      in go 0;
    foldl = b.foldl';
    last = list: b.elemAt list (b.length list - 1);
    init = list: b.genList (b.elemAt list) (b.length list - 1);
    unique = b.foldl' (acc: e: if b.elem e acc then acc else acc ++ [ e ]) [ ];
    range = first: last: if first > last then [ ] else b.genList (n: first + n) (last - first + 1);
    imap0 = f: list: b.genList (n: f n (b.elemAt list n)) (b.length list);
    imap1 = f: list: b.genList (n: f (n + 1) (b.elemAt list n)) (b.length list);
    count = pred: list: b.length (b.filter pred list);
    take = n: list: b.genList (b.elemAt list) (if n < b.length list then n else b.length list);
    findFirst = pred: default: list: let r = b.filter pred list; in if r == [ ] then default else b.head r;
    remove = e: b.filter (x: x != e);
    reverseList = xs: let l = b.length xs; in b.genList (n: b.elemAt xs (l - n - 1)) l;
  };

  strings = {
    inherit (b) concatStringsSep stringLength substring replaceStrings;
    concatStrings = b.concatStringsSep "";
    concatMapStrings = f: list: b.concatStringsSep "" (b.map f list);
    concatMapStringsSep = sep: f: list: b.concatStringsSep sep (b.map f list);
    optionalString = cond: s: if cond then s else "";
    hasPrefix = pref: str: b.substring 0 (b.stringLength pref) str == pref;
    hasSuffix = suf: str:
      let ls = b.stringLength str; lf = b.stringLength suf;
      in lf <= ls && b.substring (ls - lf) lf str == suf;
    hasInfix = infix: str: b.match ".*${strings.escapeRegex infix}.*" "${str}" != null;
    escapeRegex = b.replaceStrings
      (map (c: c) [ "\\" "[" "{" "(" ")" "^" "$" "?" "*" "+" "|" "." ])
      (map (c: "\\${c}") [ "\\" "[" "{" "(" ")" "^" "$" "?" "*" "+" "|" "." ]);
    removePrefix = pref: str:
      if strings.hasPrefix pref str then b.substring (b.stringLength pref) (-1) str else str;
    removeSuffix = suf: str:
      if strings.hasSuffix suf str then b.substring 0 (b.stringLength str - b.stringLength suf) str else str;
    splitString = sep: s: b.filter b.isString (b.split (strings.escapeRegex sep) s);
    escapeNixString = s: b.replaceStrings [ "$" ] [ "\\$" ] (b.toJSON s);
    escapeShellArg = arg: "'${b.replaceStrings [ "'" ] [ "'\\''" ] (b.toString arg)}'";
    escapeShellArgs = args: b.concatStringsSep " " (map strings.escapeShellArg args);
    makeBinPath = paths: b.concatStringsSep ":" (map (p: "${p}/bin") paths);
    getName = x: x.pname or (b.parseDrvName x.name).name;
    getVersion = x: x.version or (b.parseDrvName x.name).version;
    getBin = x: x;
    getExe = x: strings.getExe' x (x.meta.mainProgram or (strings.getName x));
    "getExe'" = x: y: "${strings.getBin x}/bin/${y}";
    fileContents = file: strings.removeSuffix "\n" (b.readFile file);
  };

  attrsets = {
    inherit (b) attrNames attrValues hasAttr getAttr listToAttrs mapAttrs removeAttrs
      intersectAttrs catAttrs zipAttrsWith;
    nameValuePair = name: value: { inherit name value; };
    filterAttrs = pred: set: b.listToAttrs (b.concatMap
      (name: let v = set.${name}; in if pred name v then [ { inherit name; value = v; } ] else [ ])
      (b.attrNames set));
    mapAttrsToList = f: set: map (n: f n set.${n}) (b.attrNames set);
    mapAttrs' = f: set: b.listToAttrs (map (n: f n set.${n}) (b.attrNames set));
    genAttrs = names: f: b.listToAttrs (map (n: { name = n; value = f n; }) names);
    attrByPath = path: default: set:
      if path == [ ] then set
      else let h = b.head path; in
        if b.isAttrs set && set ? ${h} then attrsets.attrByPath (b.tail path) default set.${h} else default;
    hasAttrByPath = path: set:
      path == [ ] || (let h = b.head path; in b.isAttrs set && set ? ${h} && attrsets.hasAttrByPath (b.tail path) set.${h});
    getAttrFromPath = path: set:
      attrsets.attrByPath path (throw "cannot find attribute `${b.concatStringsSep "." path}'") set;
    setAttrByPath = path: value:
      if path == [ ] then value else { ${b.head path} = attrsets.setAttrByPath (b.tail path) value; };
    recursiveUpdate = lhs: rhs:
      lhs // b.mapAttrs (n: v:
        if lhs ? ${n} && b.isAttrs v && b.isAttrs lhs.${n} && !(attrsets.isDerivation v)
        then attrsets.recursiveUpdate lhs.${n} v else v) rhs;
    isDerivation = x: b.isAttrs x && (x.type or null) == "derivation";
    optionalAttrs = cond: as: if cond then as else { };
    foldAttrs = op: nul: list_of_attrs:
      b.foldl' (acc: set: acc // b.mapAttrs (n: v: op v (acc.${n} or nul)) set) { } (lists.reverseList list_of_attrs);
    zipAttrs = b.zipAttrsWith (_: vs: vs);
    attrsToList = set: map (n: { name = n; value = set.${n}; }) (b.attrNames set);
    collect = pred: v:
      if pred v then [ v ]
      else if b.isAttrs v then b.concatMap (attrsets.collect pred) (b.attrValues v) else [ ];
  };

  # nixpkgs lib/asserts.nix: what system.build.toplevel checks (nixos/modules/system/activation/top-level.nix).
  asserts.checkAssertWarn = assertions: warnings: val:
    let failedAssertions = map (x: x.message) (b.filter (x: !x.assertion) assertions); in
    if failedAssertions != [ ] then
      throw "\nFailed assertions:\n${b.concatStringsSep "\n" (map (x: "- ${x}") failedAssertions)}"
    else trivial.showWarnings warnings val;

  generators = import ./generators.nix { inherit lib; };
  options = import ./options.nix { inherit lib; };
  types = import ./types.nix { inherit lib; };
  modules = import ./modules.nix { inherit lib; };
in
lib
