#!/usr/bin/env bash
# Builds the container image stampede:<version> (and stampede:latest) with no
# container registry: a statically linked release binary (glibc, +crt-static)
# on `FROM scratch`, with a minimal /etc/passwd and /etc/group, the build
# host's CA bundle, running as nobody (65534:65534).
#
#   bash deploy/build-image.sh            # build (static release build + docker build)
#   STAMPEDE_IMAGE_TAG=dev bash deploy/build-image.sh   # another tag than the version
#   STAMPEDE_BUILD_PROFILE=ci-image bash deploy/build-image.sh
#       # CI's faster build ([profile.ci-image] in Cargo.toml: no LTO, 16 codegen
#       # units); the default, and what is shipped, is the release profile
#
# The static build goes to target/x86_64-unknown-linux-gnu/<profile>/ (and its
# build scripts to target/<profile>/), apart from the debug builds.
#
# Prints the image name on the last line of stdout. Needs cargo, docker,
# binutils (strip, readelf) and /etc/ssl/certs/ca-certificates.crt.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
target=x86_64-unknown-linux-gnu
profile=${STAMPEDE_BUILD_PROFILE:-release}
ca_bundle=/etc/ssl/certs/ca-certificates.crt

die() {
  echo "build-image: error: $*" >&2
  exit 1
}

for tool in cargo docker strip readelf; do
  command -v "$tool" >/dev/null || die "\`$tool\` is not installed"
done
[[ -s $ca_bundle ]] || die "$ca_bundle is missing (apt-get install ca-certificates)"
docker info >/dev/null 2>&1 || die "the Docker daemon is unreachable (docker info failed)"

# The version of the `stampede` package, as cargo sees it.
metadata=$(cargo metadata --format-version 1 --no-deps --locked)
if command -v jq >/dev/null; then
  version=$(jq -r '.packages[] | select(.name == "stampede") | .version' <<<"$metadata")
else
  version=$(python3 -c 'import json,sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "stampede"))' <<<"$metadata")
fi
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || die "cannot read the version from cargo metadata (got '$version')"
case $profile in
  dev | test | bench) die "STAMPEDE_BUILD_PROFILE=$profile: the image wants an optimized build (release or ci-image)" ;;
  release) profile_dir=release ;;
  *) profile_dir=$profile ;;
esac
tag=${STAMPEDE_IMAGE_TAG:-$version}
image="stampede:$tag"

echo "== static build, profile $profile ($target, +crt-static)" >&2
start=$SECONDS
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --profile "$profile" --locked --target "$target" -p stampede >&2
echo "   static build ($profile) done in $((SECONDS - start)) s" >&2
bin="target/$target/$profile_dir/stampede"
[[ -x $bin ]] || die "$bin was not built"
# A static binary has no program interpreter and needs no shared library.
if readelf -lW "$bin" | grep -q 'Requesting program interpreter' ||
  readelf -dW "$bin" | grep -q '(NEEDED)'; then
  die "$bin is dynamically linked; it cannot run in a scratch image"
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/stampede-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
rootfs="$ctx/rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
# The master's --state-dir in the compose file: a named volume mounted here
# takes this directory's mode, so the master (nobody) can write it.
mkdir -p "$rootfs/state"
chmod 1777 "$rootfs/state"
strip --strip-all -o "$rootfs/usr/local/bin/stampede" "$bin"
chmod 0755 "$rootfs/usr/local/bin/stampede"
cp "$ca_bundle" "$rootfs/etc/ssl/certs/ca-certificates.crt"
chmod 0644 "$rootfs/etc/ssl/certs/ca-certificates.crt"
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
# glibc's static build has files and dns lookups built in; say so explicitly.
echo 'hosts: files dns' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
cp deploy/Dockerfile "$ctx/Dockerfile"

echo "== docker build $image" >&2
docker build --network none --build-arg "VERSION=$version" \
  --label "stampede.build-profile=$profile" \
  -t "$image" -t stampede:latest "$ctx" >&2

# Smoke test: the binary starts in the image, as nobody, with no network.
got=$(docker run --rm --network none "$image" --version)
[[ $got == *"$version"* ]] || die "the image printed '$got' for --version, expected $version"
user=$(docker image inspect -f '{{.Config.User}}' "$image")
[[ $user == 65534:65534 ]] || die "the image runs as '$user', expected 65534:65534"
size=$(docker image inspect -f '{{.Size}}' "$image")
echo "   $image: $((size / 1000 / 1000)) MB ($size bytes), runs as $user: $got" >&2
((size < 30 * 1000 * 1000)) || die "the image is $size bytes, over the 30 MB budget"
echo "$image"
