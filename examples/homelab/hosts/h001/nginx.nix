# h001's own nginx, the inner of two proxies: o001 sends chat, git, notes, sec and sso to this
# host's port 80 (the seed's "Current Proxy Mappings" name no port), and this nginx routes each by
# its Host header (o001's recommendedProxySettings pass it on) to what serves it on loopback: the
# forgejo and zitadel containers (they share the host's network) and chat, notes and sec, which run
# here outside this example. llm is proxied by o001 straight to :8095.
{ config, lib, ... }:
let
  local = port: extra: {
    locations."/" = { proxyPass = "http://127.0.0.1:${toString port}"; proxyWebsockets = true; };
    extraConfig = extra;
  };
in
{
  services.nginx = {
    enable = true;
    recommendedProxySettings = true;
    virtualHosts = {
      "chat.joshuabell.xyz" = local 8081 "";
      # pushes of large packs: nginx's 1 MiB default would refuse them
      "git.joshuabell.xyz" = local config.containers.forgejo.config.services.forgejo.settings.server.HTTP_PORT "client_max_body_size 512m;";
      "notes.joshuabell.xyz" = local 8082 "";
      "sec.joshuabell.xyz" = local 8083 "";
      "sso.joshuabell.xyz" = local config.containers.zitadel.config.services.zitadel.settings.Port "";
    };
  };
}
