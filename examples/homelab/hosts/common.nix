# Shared by every host of the fleet.
{ config, lib, pkgs, ... }:
{
  nixpkgs.hostPlatform = lib.mkDefault "x86_64-linux";
  system.stateVersion = lib.mkDefault "24.11";
  time.timeZone = "Europe/Berlin";

  services.openssh.enable = true;
  services.tailscale.enable = true;
  networking.firewall.trustedInterfaces = [ "tailscale0" ];

  # The operator's account: the same uid everywhere.
  users.users.josh = {
    isNormalUser = true;
    uid = 1000;
    group = "users";
    extraGroups = [ "wheel" ];
  };

  age.identityPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];

  # The certificates of nginx's enableACME vhosts (l001, o001) need an account and the CA's terms.
  security.acme.acceptTerms = true;
  security.acme.defaults.email = "admin@joshuabell.xyz";
}
