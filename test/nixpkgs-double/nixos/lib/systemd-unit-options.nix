# TEST DOUBLE of the types of nixpkgs nixos/lib/systemd-unit-options.nix and systemd-lib.nix that
# other modules use: unitOption and unitNameType.
{ lib }:
{
  # nixpkgs' unitOption: one value, or lists (repeatable options) concatenated across definitions.
  unitOption = lib.mkOptionType {
    name = "systemd option";
    merge = loc: defs:
      if lib.isList (lib.head defs).value then
        lib.concatMap
          (def:
            if builtins.typeOf def.value == "list" then def.value
            else throw "The definitions for systemd unit options should be either all lists, representing repeatable options, or all non-lists, but for the option ${lib.showOption loc}, the definitions are a mix of list and non-list ${lib.showDefs defs}")
          defs
      else lib.mergeEqualOption loc defs;
  };
  unitNameType = lib.types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
}
