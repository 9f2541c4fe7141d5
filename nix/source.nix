# The source nix/package.nix builds from: only what `npm run build` and the installed package
# need, so a change to tests, examples or generated/ does not rebuild migen. .gitignore is left out
# on purpose: it lists dist/, and `npm pack` (which the install hook uses to pick the files)
# honours .gitignore when package.json has no "files" list and there is no .npmignore, so dist/
# would be dropped. test/nix/package-source.test.ts builds this with real nix and runs the build's
# own commands (package.json's "build" script) against it.
{ root ? ../. }:
let
  b = builtins;
  keep = [ "package.json" "package-lock.json" "README.md" "flake.nix"
    "bin" "src" "scripts" "templates" "schemas" "nix" ];
in
b.path {
  path = root;
  name = "migen-source";
  filter = path: type:
    let rel = b.substring (b.stringLength (toString root) + 1) (-1) (toString path);
        top = b.head (b.split "/" rel);
    in b.elem top keep || b.match "tsconfig.*\\.json" top != null;
}
