# TEST DOUBLE of nixpkgs' restic (services/backup/restic.nix), prometheus
# (services/monitoring/prometheus), openssh (services/networking/ssh/sshd.nix) and tailscale
# (services/networking/tailscale.nix) modules: the options migen and the fleet use, with nixpkgs'
# names, types and defaults, the users they create and restic's assertion. No units.
{ config, lib, pkgs, ... }:
let
  inherit (lib) mkOption mkIf types;
  opt = type: default: description: mkOption { inherit type default description; };
  nullStr = opt (types.nullOr types.str) null;
  strs = opt (types.listOf types.str) [ ];
  inherit (import ../../lib/systemd-unit-options.nix { inherit lib; }) unitOption;
in
{
  options.services.restic = {
    backups = mkOption {
      type = types.attrsOf (types.submodule ({ name, ... }: {
        options = {
          passwordFile = mkOption { type = types.str; description = "Read the repository password from a file."; };
          environmentFile = nullStr "File containing the credentials to access the repository.";
          rcloneOptions = opt (types.nullOr (types.attrsOf (types.oneOf [ types.str types.bool ]))) null "Options to pass to rclone.";
          rcloneConfig = opt (types.nullOr (types.attrsOf (types.oneOf [ types.str types.bool ]))) null "Configuration for the rclone remote.";
          rcloneConfigFile = opt (types.nullOr types.path) null "Path to the file containing rclone configuration.";
          inhibitsSleep = opt types.bool false "Prevents the system from sleeping while backing up.";
          repository = nullStr "Repository to backup to.";
          repositoryFile = opt (types.nullOr types.path) null "Path to the file containing the repository location.";
          paths = strs "Which paths to backup.";
          exclude = strs "Patterns to exclude when backing up.";
          timerConfig = opt (types.nullOr (types.attrsOf unitOption)) { OnCalendar = "daily"; Persistent = true; } "When to run the backup.";
          user = opt types.str "root" "As which user the backup should run.";
          extraBackupArgs = strs "Extra arguments passed to restic backup.";
          extraOptions = strs "Extra extended options to be passed to the restic --option flag.";
          initialize = opt types.bool false "Create the repository if it doesn't exist.";
          pruneOpts = strs "Options for 'restic forget --prune'.";
          runCheck = opt types.bool false "Whether to run the `check` command with the provided `checkOpts` options.";
          checkOpts = strs "Options for 'restic check'.";
          dynamicFilesFrom = nullStr "A script that produces a list of files to back up.";
          backupPrepareCommand = nullStr "A script that must run before starting the backup process.";
          backupCleanupCommand = nullStr "A script that must run after finishing the backup process.";
          package = lib.mkPackageOption pkgs "restic" { };
          createWrapper = opt types.bool true "Whether to generate and add a script to the system path.";
        };
      }));
      default = { };
      description = "Periodic backups to create with Restic.";
    };
    server = {
      enable = lib.mkEnableOption "Restic REST Server";
      listenAddress = opt types.str "8000" "Listen on a specific IP address and port or unix socket.";
      dataDir = opt types.path "/var/lib/restic" "The directory for storing the restic repository.";
      appendOnly = opt types.bool false "Enable append only mode.";
      privateRepos = opt types.bool false "Enable private repos.";
      prometheus = opt types.bool false "Enable Prometheus metrics at /metrics.";
      extraFlags = strs "Extra commandline options to pass to Restic REST server.";
    };
  };

  options.services.prometheus = {
    enable = lib.mkEnableOption "Prometheus monitoring daemon";
    package = lib.mkPackageOption pkgs "prometheus" { };
    port = opt types.port 9090 "Port to listen on.";
    listenAddress = opt types.str "0.0.0.0" "Address to listen on for the web interface, API, and telemetry.";
    stateDir = opt types.str "prometheus2" "Directory below /var/lib to store Prometheus metrics data.";
    extraFlags = strs "Extra commandline options when launching Prometheus.";
    retentionTime = nullStr "How long to retain samples in storage.";
    globalConfig = opt (types.attrsOf types.anything) { } "Parameters that are valid in all configuration contexts.";
    rules = strs "Alerting and/or Recording rules to evaluate at runtime.";
    ruleFiles = opt (types.listOf types.path) [ ] "Any additional rules files to include in this configuration.";
    scrapeConfigs = opt
      (types.listOf (types.submodule {
        options = {
          job_name = mkOption { type = types.str; description = "The job name assigned to scraped metrics by default."; };
          scrape_interval = nullStr "How frequently to scrape targets from this job.";
          scrape_timeout = nullStr "Per-target timeout when scraping this job.";
          metrics_path = nullStr "The HTTP resource path on which to fetch metrics from targets.";
          honor_labels = opt (types.nullOr types.bool) null "Controls how Prometheus handles conflicts between labels.";
          scheme = opt (types.nullOr (types.enum [ "http" "https" ])) null "The URL scheme with which to fetch metrics from targets.";
          params = opt (types.nullOr (types.attrsOf (types.listOf types.str))) null "Optional HTTP URL parameters.";
          static_configs = opt
            (types.nullOr (types.listOf (types.submodule {
              options.targets = mkOption { type = types.listOf types.str; description = "The targets specified by the target group."; };
              options.labels = opt (types.attrsOf types.str) { } "Labels assigned to all metrics scraped from the targets.";
            })))
            null "List of labeled target groups for this job.";
          relabel_configs = opt (types.nullOr (types.listOf (types.attrsOf types.anything))) null "Relabeling of targets.";
          metric_relabel_configs = opt (types.nullOr (types.listOf (types.attrsOf types.anything))) null "Relabeling of samples.";
        };
      })) [ ] "A list of scrape configurations.";
    exporters.node = {
      enable = lib.mkEnableOption "the prometheus node exporter";
      port = opt types.port 9100 "Port to listen on.";
      enabledCollectors = strs "Collectors to enable.";
      openFirewall = opt types.bool false "Open port in firewall for incoming connections.";
    };
  };

  options.services.openssh = {
    enable = lib.mkEnableOption "the OpenSSH secure shell daemon";
    ports = opt (types.listOf types.port) [ 22 ] "Specifies on which ports the SSH daemon listens.";
    openFirewall = opt types.bool true "Whether to automatically open the specified ports in the firewall.";
    hostKeys = opt (types.listOf types.attrs)
      [ { type = "rsa"; bits = 4096; path = "/etc/ssh/ssh_host_rsa_key"; } { type = "ed25519"; path = "/etc/ssh/ssh_host_ed25519_key"; } ]
      "NixOS can automatically generate SSH host keys.";
    authorizedKeysFiles = strs "Specify the rules for which files to read on the host (AuthorizedKeysFile in sshd_config).";
    authorizedKeysInHomedir = opt types.bool true "Enables the use of the ~/.ssh/authorized_keys file.";
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf (types.nullOr (types.oneOf [ types.bool types.int types.str (types.listOf types.str) ]));
        options = {
          PermitRootLogin = opt (types.enum [ "yes" "without-password" "prohibit-password" "forced-commands-only" "no" ]) "prohibit-password" "Whether the root user can login using ssh.";
          PasswordAuthentication = opt types.bool true "Specifies whether password authentication is allowed.";
          KbdInteractiveAuthentication = opt types.bool true "Specifies whether keyboard-interactive authentication is allowed.";
          X11Forwarding = opt types.bool false "Whether to allow X11 connections to be forwarded.";
          UseDns = opt types.bool false "Whether sshd looks up the remote host name.";
          LogLevel = opt (types.nullOr (types.enum [ "QUIET" "FATAL" "ERROR" "INFO" "VERBOSE" "DEBUG" "DEBUG1" "DEBUG2" "DEBUG3" ])) "INFO" "The verbosity level for logging.";
        };
      };
      default = { };
      description = "Configuration for sshd_config(5).";
    };
  };

  options.services.tailscale = {
    enable = lib.mkEnableOption "Tailscale client daemon";
    port = opt types.port 41641 "The port to listen on for tunnel traffic (0=autoselect).";
    interfaceName = opt types.str "tailscale0" "The interface name for tunnel traffic.";
    openFirewall = opt types.bool false "Whether to open the firewall for the specified port.";
    useRoutingFeatures = opt (types.enum [ "none" "client" "server" "both" ]) "none" "Enables settings required for Tailscale's routing features.";
    authKeyFile = opt (types.nullOr types.path) null "A file containing the auth key.";
    extraUpFlags = strs "Extra flags to pass to tailscale up.";
    package = lib.mkPackageOption pkgs "tailscale" { };
  };

  config = lib.mkMerge [
    {
      assertions = lib.mapAttrsToList
        (n: v: {
          assertion = lib.xor (v.repository == null) (v.repositoryFile == null);
          message = "services.restic.backups.${n}: exactly one of repository or repositoryFile should be set";
        })
        config.services.restic.backups;
    }
    (mkIf config.services.prometheus.enable {
      users.users.prometheus = { description = "Prometheus daemon user"; uid = 255; group = "prometheus"; };
      users.groups.prometheus.gid = 255;
    })
    (mkIf config.services.openssh.enable {
      users.users.sshd = { isSystemUser = true; group = "sshd"; description = "SSH privilege separation user"; };
      users.groups.sshd = { };
      networking.firewall.allowedTCPPorts = mkIf config.services.openssh.openFirewall config.services.openssh.ports;
      # As sshd.nix: merged with the definitions of other modules; sshd_config gets
      # `AuthorizedKeysFile ${toString cfg.authorizedKeysFiles}`.
      services.openssh.authorizedKeysFiles =
        lib.optional config.services.openssh.authorizedKeysInHomedir "%h/.ssh/authorized_keys" ++ [ "/etc/ssh/authorized_keys.d/%u" ];
    })
    (mkIf config.services.tailscale.enable {
      networking.firewall.allowedUDPPorts = mkIf config.services.tailscale.openFirewall [ config.services.tailscale.port ];
    })
  ];
}
