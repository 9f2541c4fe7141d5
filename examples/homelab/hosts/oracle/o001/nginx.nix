# The proxy table of o001 (see the seed document's "Current Proxy Mappings").
{ config, lib, ... }:
let
  proxied = backend: {
    forceSSL = true;
    enableACME = true;
    locations."/" = { proxyPass = backend; proxyWebsockets = true; };
  };
in
{
  services.nginx = {
    enable = true;
    recommendedProxySettings = true;
    recommendedTlsSettings = true;
    virtualHosts = {
      "chat.joshuabell.xyz" = proxied "http://100.64.0.13";
      "git.joshuabell.xyz" = proxied "http://100.64.0.13";
      "notes.joshuabell.xyz" = proxied "http://100.64.0.13";
      "sec.joshuabell.xyz" = proxied "http://100.64.0.13";
      "sso.joshuabell.xyz" = proxied "http://100.64.0.13";
      "llm.joshuabell.xyz" = proxied "http://100.64.0.13:8095";
      "vault.joshuabell.xyz" = proxied "http://127.0.0.1:8222";
    };
  };
}
