#!/bin/sh
# deps.sh build|deb|test - make sure what the build or the tests need is here.
# Each need is "probe:package": a command name, or a path that must exist.
# Missing ones are installed with apt-get when running as root; otherwise the
# exact apt-get line is printed and the script fails.
mode=$1
case $mode in
build) needs="cc:gcc make:make /usr/include/ini.h:libinih-dev
              /usr/include/CUnit/CUnit.h:libcunit1-dev" ;;
deb)   needs="dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian" ;;
test)  needs="curl:curl wget:wget /usr/bin/python3:python3 node:nodejs javac:default-jdk-headless
              openssl:openssl /usr/include/openssl/ssl.h:libssl-dev /usr/include/gnutls/gnutls.h:libgnutls28-dev
              clang:clang /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a:libclang-rt-14-dev
              valgrind:valgrind strace:strace man:man-db
              /usr/sbin/nginx:nginx redis-server:redis-server redis-cli:redis-tools
              /usr/lib/postgresql/15/bin/initdb:postgresql /usr/sbin/nft:nftables
              php:php-cli /etc/php/8.2/mods-available/curl.ini:php-curl
              /etc/php/8.2/mods-available/pgsql.ini:php-pgsql
              /bin/busybox:busybox-static fzf:fzf
              /usr/lib/python3/dist-packages/requests:python3-requests
              /usr/lib/python3/dist-packages/aiohttp:python3-aiohttp nc.openbsd:netcat-openbsd
              /usr/share/perl5/LWP/UserAgent.pm:libwww-perl ruby:ruby
              /usr/sbin/php-fpm8.2:php8.2-fpm socat:socat memcached:memcached memcstat:libmemcached-tools
              ssh:openssh-client /usr/sbin/sshd:openssh-server git:git
              /usr/sbin/mariadbd:mariadb-server mariadb:mariadb-client
              dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian tmux:tmux sudo:sudo" ;;
*) echo "usage: deps.sh build|deb|test" >&2; exit 2 ;;
esac
missing=""
for n in $needs; do
    probe=${n%%:*}; pkg=${n#*:}
    case $probe in
    /*) [ -e "$probe" ] && continue ;;
    *) command -v "$probe" >/dev/null 2>&1 && continue ;;
    esac
    missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "breakwater: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq $missing; } >/tmp/breakwater-apt.log 2>&1 || {
        tail -n 20 /tmp/breakwater-apt.log; echo "apt-get install$missing failed" >&2; exit 1; }
    exit 0
fi
echo "breakwater: missing $mode dependencies; run as root:" >&2
echo "  apt-get install -y$missing" >&2
exit 1
