# TEST DOUBLE of nixpkgs lib/options.nix (see ../README.md): same names and argument shapes.
{ lib }:
let
  b = builtins;
  # nixpkgs lib/options.nix: parts are escaped with escapeNixIdentifier, except the
  # placeholders "<name>", "*" and "<function body>".
  showOption = parts: b.concatStringsSep "." (map
    (p: if b.elem p [ "<name>" "*" "<function body>" ] then p
      else if b.match "[a-zA-Z_][a-zA-Z0-9_'-]*" p != null then p
      else lib.escapeNixString p)
    parts);
  showFiles = files: b.concatStringsSep " and " (map (f: "`${f}'") files);
  # nixpkgs' showDefs: "\n- In `file': value", the value pretty-printed, its first 5 lines.
  showDefs = defs: b.concatStringsSep "" (map
    (def:
      let
        pretty = b.tryEval (lib.generators.toPretty { } def.value);
        lines = b.filter (v: !b.isList v) (b.split "\n" pretty.value);
        value = b.concatStringsSep "\n    " (lib.take 5 lines ++ lib.optional (b.length lines > 5) "...");
        result =
          if !pretty.success then ""
          else if b.length lines > 1 then ":\n    " + value
          else ": " + value;
      in
      "\n- In `${def.file}'${result}")
    defs);
in
rec {
  inherit showOption showFiles showDefs;

  # Same formal arguments as nixpkgs (no `...`): an unknown argument is an error there too.
  mkOption =
    { default ? null, defaultText ? null, example ? null, description ? null, relatedPackages ? null
    , type ? null, apply ? null, internal ? null, visible ? null, readOnly ? null
    }@attrs:
    attrs // { _type = "option"; };

  mkEnableOption = name: mkOption {
    default = false;
    example = true;
    description = "Whether to enable ${name}.";
    type = lib.types.bool;
  };

  mkPackageOption = pkgs: name:
    { nullable ? false, default ? name, example ? null, extraDescription ? "", pkgsText ? "pkgs" }:
    let
      path = if b.isList default then default else [ default ];
      pkg = lib.attrByPath path (throw "${b.concatStringsSep "." path} cannot be found in ${pkgsText}") pkgs;
    in
    mkOption ({
      type = if nullable then lib.types.nullOr lib.types.package else lib.types.package;
      description = "The ${name} package to use.${extraDescription}";
    } // (if default == null then { } else { default = pkg; }));

  mkSinkUndeclaredOptions = attrs: mkOption ({
    internal = true;
    visible = false;
    default = false;
    description = "Sink for option definitions.";
    type = lib.types.anything;
  } // attrs);

  isOption = x: b.isAttrs x && (x._type or null) == "option";

  literalExpression = text: { _type = "literalExpression"; inherit text; };
  literalMD = text: { _type = "literalMD"; inherit text; };
  mdDoc = x: x;

  # nixpkgs: all definitions must be equal, else "conflicting definition values".
  mergeEqualOption = loc: defs:
    if defs == [ ] then abort "This case should never happen."
    else if b.length defs == 1 then (b.head defs).value
    else (b.foldl'
      (first: def:
        if def.value != first.value then
          throw "The option `${showOption loc}' has conflicting definition values:${showDefs [ first def ]}\nUse `lib.mkForce value` or `lib.mkDefault value` to change the priority on any of these definitions."
        else first)
      (b.head defs) (b.tail defs)).value;

  mergeOneOption = loc: defs:
    if defs == [ ] then abort "This case should never happen."
    else if b.length defs != 1 then
      throw "The unique option `${showOption loc}' is defined multiple times. Definition values:${showDefs defs}"
    else (b.head defs).value;

  mergeDefaultOption = loc: defs:
    let list = map (d: d.value) defs; in
    if b.length list == 1 then b.head list
    else if b.all b.isFunction list then x: mergeDefaultOption loc (map (f: { value = f x; }) defs)
    else if b.all b.isList list then b.concatLists list
    else if b.all b.isAttrs list then b.foldl' (a: c: a // c) { } list
    else if b.all b.isBool list then b.foldl' (a: c: a || c) false list
    else if b.all b.isString list then b.concatStringsSep "" list
    else if b.all b.isInt list && b.all (x: x == b.head list) list then b.head list
    else throw "Cannot merge definitions of `${showOption loc}'. Definition values:${showDefs defs}";

  getValues = map (x: x.value);
  getFiles = map (x: x.file);
}
