#!/usr/bin/env bash
# The Debian package, as a user gets it: builds the .deb with Tauri's bundler (the npm CLI,
# release profile), checks its control file, installs it into the system with apt-get,
# validates the installed desktop entry and its Exec and Icon, launches the INSTALLED app
# from that entry and under WebDriver until the QR code is drawn (tests/package/
# test_installed.py), then purges the package and checks nothing is left.
# Needs root or sudo (apt-get), and scripts/desktop-deps.sh to have run (scripts/test.sh
# does that). A DG-LAB Hub package already installed is replaced by this build and removed.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [ -z "${DISPLAY:-}" ]; then
  exec xvfb-run -a -s "-screen 0 1600x1200x24" "$0" "$@"
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
say() { printf '    %s\n' "$*"; }
fail() { printf 'FAIL %s\n' "$*" >&2; exit 1; }

# 1. Build. The CLI is a locked devDependency (package-lock.json); `npm ci` only when
# node_modules is missing or older than the lockfile. The bundler runs cargo itself
# (release profile, + tauri/custom-protocol); cargo makes it a no-op when nothing changed.
if [ ! node_modules/.package-lock.json -nt package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
t0=$(date +%s)
npx --no-install tauri build --ci --bundles deb -- --locked
say "tauri build --bundles deb: $(( $(date +%s) - t0 )) s"

VERSION=$(python3 -c 'import json; print(json.load(open("src-tauri/tauri.conf.json"))["version"])')
ARCH=$(dpkg --print-architecture)
DEB="target/release/bundle/deb/DG-LAB Hub_${VERSION}_${ARCH}.deb"
[ -f "$DEB" ] || fail "$DEB was not built"
PKG=$(dpkg-deb -f "$DEB" Package)
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
say "package $PKG $VERSION ($ARCH): $(du -h "$DEB" | cut -f1) .deb, installed size $(dpkg-deb -f "$DEB" Installed-Size) KiB," \
    "binary $(du -h target/release/dglab-hub | cut -f1)"
say "Depends: $DEPENDS"
say "Recommends: $(dpkg-deb -f "$DEB" Recommends)"

# 2. The control file: a sensible name, section and description; runtime libraries only.
[ "$PKG" = "dg-lab-hub" ] || fail "package name $PKG"
[ "$(dpkg-deb -f "$DEB" Section)" = "utils" ] || fail "section"
[ -n "$(dpkg-deb -f "$DEB" Description)" ] || fail "no description"
case "$DEPENDS" in *-dev*) fail "a -dev package in Depends: $DEPENDS" ;; esac
# Every library the binary links comes from a package in Depends (as dpkg-shlibdeps says).
shl=$(mktemp -d)
mkdir -p "$shl/debian" && printf 'Source: x\n\nPackage: x\nArchitecture: any\n' >"$shl/debian/control"
NEEDED=$(cd "$shl" && dpkg-shlibdeps -O "$OLDPWD/target/release/dglab-hub" 2>/dev/null | sed 's/^shlibs:Depends=//')
rm -rf "$shl"
for dep in $(printf '%s\n' "$NEEDED" | tr ',' '\n' | sed 's/(.*)//; s/ //g'); do
  printf '%s\n' "$DEPENDS" | tr ',' '\n' | sed 's/(.*)//; s/ //g' | grep -qx "$dep" \
    || fail "the binary links a library from $dep, which is not in Depends ($DEPENDS)"
done
say "every linked library's package is in Depends ($(printf '%s' "$NEEDED" | tr ',' '\n' | wc -l) packages per dpkg-shlibdeps)"

# 3. Install into the system, as a user would. From here on, always purge on the way out.
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "install ok installed"; then
  say "$PKG was installed already: replacing it with this build"
  $SUDO apt-get remove -y -qq --purge "$PKG" >/dev/null
fi
PKG_HOME="$(mktemp -d)"
DRIVER_PID=""
mkdir -p target/package
cleanup() {
  if [ -n "$DRIVER_PID" ]; then
    pkill -TERM -P "$DRIVER_PID" 2>/dev/null || true
    kill "$DRIVER_PID" 2>/dev/null || true
    wait "$DRIVER_PID" 2>/dev/null || true
  fi
  if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "installed"; then
    $SUDO apt-get remove -y -qq --purge "$PKG" >/dev/null 2>&1 || true
  fi
  rm -rf "$PKG_HOME" 2>/dev/null || { sleep 1; rm -rf "$PKG_HOME" 2>/dev/null || true; }
}
trap cleanup EXIT
# (apt fetches a local file as root when its sandbox user cannot read it: a notice, no problem.)
$SUDO apt-get install -y -qq "./$DEB" >target/package/apt-install.log 2>&1 \
  || { cat target/package/apt-install.log >&2; fail "apt-get install ./$DEB"; }
dpkg-query -W -f='${Status}' "$PKG" | grep -q "install ok installed" || fail "$PKG did not install"
say "installed: $(dpkg-query -W -f='${Package} ${Version}, ${Installed-Size} KiB' "$PKG")"

# 4. The desktop entry: valid, in the menu as "DG-LAB Hub", Exec and Icon resolve to installed files.
ENTRY=$(dpkg -L "$PKG" | grep '^/usr/share/applications/.*\.desktop$')
[ "$(printf '%s\n' "$ENTRY" | wc -l)" = 1 ] || fail "expected one desktop entry, got: $ENTRY"
desktop-file-validate "$ENTRY" || fail "desktop-file-validate $ENTRY"
key() { sed -n "s/^$1=//p" "$ENTRY" | head -1; }
[ "$(key Name)" = "DG-LAB Hub" ] || fail "Name=$(key Name)"
case "$(key Categories)" in *Utility*) ;; *) fail "Categories=$(key Categories)" ;; esac
EXEC=$(key Exec | awk '{print $1}')
EXEC_PATH=$(command -v "$EXEC") || fail "Exec=$EXEC is not on PATH"
[ -x "$EXEC_PATH" ] || fail "$EXEC_PATH is not executable"
dpkg -S "$EXEC_PATH" | grep -q "^$PKG:" || fail "$EXEC_PATH does not belong to $PKG"
ICON=$(key Icon)
ICONS=$(dpkg -L "$PKG" | grep "^/usr/share/icons/hicolor/[0-9]*x[0-9]*/apps/$ICON\.png$" || true)
[ -n "$ICONS" ] || fail "Icon=$ICON: no installed icon under /usr/share/icons/hicolor"
while read -r icon; do
  dir_size=$(basename "$(dirname "$(dirname "$icon")")")
  png_size=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print("%dx%d" % struct.unpack(">II", d[16:24]))' "$icon")
  [ "$dir_size" = "$png_size" ] || fail "$icon is $png_size, filed under $dir_size"
done <<<"$ICONS"
say "$ENTRY: valid; Exec=$(key Exec) -> $EXEC_PATH; Icon=$ICON ->" \
    "$(printf '%s\n' "$ICONS" | sed 's|/usr/share/icons/hicolor/||; s|/apps/.*||' | tr '\n' ' ')"

# 5. Launch the installed app: from its desktop entry, then under tauri-driver to the QR code.
export XDG_DATA_HOME="$PKG_HOME/data" XDG_CONFIG_HOME="$PKG_HOME/config" XDG_CACHE_HOME="$PKG_HOME/cache"
DRIVER_BIN="$PWD/tools/bin/tauri-driver"
[ -x "$DRIVER_BIN" ] || fail "$DRIVER_BIN missing; run scripts/desktop-deps.sh"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
WD_PORT=$(free_port)
NATIVE_PORT=$(free_port)
"$DRIVER_BIN" --port "$WD_PORT" --native-port "$NATIVE_PORT" >target/package/tauri-driver.log 2>&1 &
DRIVER_PID=$!
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $WD_PORT), 0.2)" 2>/dev/null; then break; fi
  sleep 0.1
done
python3 tests/package/test_installed.py --webdriver "127.0.0.1:$WD_PORT" \
  --desktop-file "$ENTRY" --data-home "$XDG_DATA_HOME" --launches "${PACKAGE_LAUNCHES:-5}"
say "the app's folders after the launches: $(cd "$PKG_HOME" && find . -maxdepth 3 -path '*org.dglab-hub.desktop*' | sort | tr '\n' ' ')"

# 6. Remove it: package, binary, desktop entry and icons gone.
$SUDO apt-get remove -y -qq --purge "$PKG" >/dev/null
! dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "installed" || fail "$PKG still installed"
for f in "$EXEC_PATH" "$ENTRY" $ICONS; do [ ! -e "$f" ] || fail "$f left behind"; done
say "apt-get remove --purge $PKG: binary, desktop entry and $(printf '%s\n' "$ICONS" | wc -l) icons gone"
echo "package: ok"
