# TEST DOUBLE of nixpkgs nixos/modules/module-list.nix: the modules of the double.
[
  ./misc/nixpkgs.nix
  ./system.nix
  ./users.nix
  ./networking.nix
  ./systemd.nix
  ./containers.nix
  ./specialisation.nix
  ./services.nix
]
