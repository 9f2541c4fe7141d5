# TEST DOUBLE of nixpkgs lib/generators.nix: only toPretty, which nixpkgs' showDefs uses to print
# definition values in error messages. Same output as nixpkgs' toPretty (multiline by default,
# strings escaped, `<function, args: {a, b?}>`, `<derivation name>`); no __pretty values and no
# withRecursion depth limit (see ../README.md).
{ lib }:
let
  b = builtins;
  escapeNixIdentifier = s:
    if b.match "[a-zA-Z_][a-zA-Z0-9_'-]*" s != null then s
    else lib.escapeNixString s;
  escape = list: b.replaceStrings list (map (c: "\\${c}") list);

  toPretty = { multiline ? true, indent ? "", ... }:
    let
      go = indent: v:
        let
          introSpace = if multiline then "\n${indent}  " else " ";
          outroSpace = if multiline then "\n${indent}" else " ";
        in
        if b.isInt v then toString v
        else if b.isFloat v then b.toJSON v
        else if b.isString v then
          let
            lines = b.filter (x: !b.isList x) (b.split "\n" v);
            escapeSingleline = escape [ "\\" "\"" "\${" ];
            escapeMultiline = b.replaceStrings [ "\${" "''" ] [ "''\${" "'''" ];
            singleline = "\"" + b.concatStringsSep "\\n" (map escapeSingleline lines) + "\"";
            escapedLines = map escapeMultiline lines;
            lastLine = lib.last escapedLines;
            multilineResult = "''" + introSpace + b.concatStringsSep introSpace (lib.init escapedLines)
              + (if lastLine == "" then outroSpace else introSpace + lastLine) + "''";
          in
          if multiline && b.length lines > 1 then multilineResult else singleline
        else if v == true then "true"
        else if v == false then "false"
        else if v == null then "null"
        else if b.isPath v then toString v
        else if b.isList v then
          if v == [ ] then "[ ]"
          else "[" + introSpace + b.concatStringsSep introSpace (map (go (indent + "  ")) v) + outroSpace + "]"
        else if b.isFunction v then
          let
            fna = b.functionArgs v;
            showFnas = b.concatStringsSep ", " (lib.mapAttrsToList (n: hasDef: if hasDef then n + "?" else n) fna);
          in
          if fna == { } then "<function>" else "<function, args: {${showFnas}}>"
        else if b.isAttrs v then
          if v == { } then "{ }"
          else if (v.type or null) == "derivation" then "<derivation ${v.name or "???"}>"
          else "{" + introSpace
            + b.concatStringsSep introSpace (lib.mapAttrsToList
              (n: value: "${escapeNixIdentifier n} = ${go (indent + "  ") value};") v)
            + outroSpace + "}"
        else abort "generators.toPretty: should never happen";
    in
    go indent;
in
{
  inherit toPretty;
}
