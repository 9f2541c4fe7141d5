# TEST DOUBLE of nixpkgs nixos/modules/module-list.nix: the modules of the double.
[
  ./misc/nixpkgs.nix
  ./system.nix
  ./users.nix
  ./networking.nix
  ./systemd.nix
  ./containers.nix
  ./specialisation.nix
  ./security/acme.nix
  ./services/nginx.nix
  ./services/postgresql.nix
  ./services/forgejo.nix
  ./services/headscale.nix
  ./services/apps.nix
  ./services/misc.nix
]
