# TEST DOUBLE of nixpkgs nixos/modules/system/activation/no-clone.nix: a specialisation
# does not carry its parent's specialisations.
{ lib, ... }:
{
  specialisation = lib.mkOverride 0 { };
}
