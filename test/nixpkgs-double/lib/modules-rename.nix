# TEST DOUBLE of nixpkgs lib/modules.nix's mkRenamedOptionModule (doRename) and
# mkRemovedOptionModule: same options, aliasing, warning and assertion texts.
{ lib, mkMerge }:
let inherit (lib) showOption; in
{
  # nixpkgs' doRename (mkRenamedOptionModule): the old name is an alias whose definitions move to
  # the new one, with nixpkgs' warning when it is used.
  mkRenamedOptionModule = from: to: { config, options, ... }:
    let fromOpt = lib.getAttrFromPath from options; in
    {
      options = lib.setAttrByPath from (lib.mkOption {
        description = "Alias of `${showOption to}'.";
        apply = _: lib.getAttrFromPath to config;
      });
      config = mkMerge [
        (lib.optionalAttrs (options ? warnings) {
          warnings = lib.optional fromOpt.isDefined
            "The option `${showOption from}' defined in ${lib.showFiles fromOpt.files} has been renamed to `${showOption to}'.";
        })
        (lib.setAttrByPath to (mkMerge (map (d: d.value) fromOpt.rawDefinitions)))
      ];
    };
  mkRemovedOptionModule = optionName: replacementInstructions: { options, ... }: {
    options = lib.setAttrByPath optionName (lib.mkOption {
      apply = _: throw "The option `${showOption optionName}' can no longer be used since it's been removed. ${replacementInstructions}";
    });
    config.assertions =
      let opt = lib.getAttrFromPath optionName options; in
      [{
        assertion = !opt.isDefined;
        message = ''
          The option definition `${showOption optionName}' in ${lib.showFiles opt.files} no longer has any effect; please remove it.
          ${replacementInstructions}
        '';
      }];
  };
}
