#!/usr/bin/env bash
# Builds empty rpm packages named and versioned as AlmaLinux 9 ships them
# and records them in an rpm database (rpm --justdb), as an AlmaLinux 9.4
# image's /var/lib/rpm/rpmdb.sqlite would hold them.
set -euo pipefail
out=$1; top=$(mktemp -d)
mkdir -p "$top"/{SPECS,RPMS,BUILD,SOURCES,SRPMS}
# source-name epoch version release binary-packages...
while read -r src epoch ver rel bins; do
	spec=$top/SPECS/$src.spec
	{
		echo "Name: $src"
		[[ $epoch != 0 ]] && echo "Epoch: $epoch"
		echo "Version: $ver"
		echo "Release: $rel"
		echo "Summary: $src as AlmaLinux 9 names it (metadata only)"
		echo "License: MIT"
		echo "%description"
		echo "Metadata only."
		for b in $bins; do
			if [[ $b != "$src" ]]; then
				echo "%package -n $b"
				echo "Summary: $b"
				echo "%description -n $b"
				echo "Metadata only."
				echo "%files -n $b"
			fi
		done
		[[ " $bins " == *" $src "* ]] && echo "%files"
		true
	} >"$spec"
	rpmbuild --quiet --define "_topdir $top" --target x86_64-redhat-linux -bb "$spec" >/dev/null
done <<'LIST'
openssl 1 3.0.7 27.el9 openssl openssl-libs
glibc 0 2.34 100.el9_4.2 glibc glibc-common
curl 0 7.76.1 29.el9_4 curl libcurl
sudo 0 1.9.5p2 10.el9_3 sudo
expat 0 2.5.0 2.el9_4 expat
libxml2 0 2.9.13 6.el9_4 libxml2
less 0 590 4.el9_4 less
vim 2 8.2.2637 20.el9_1 vim-minimal
krb5 0 1.21.1 1.el9 krb5-libs
sqlite 0 3.34.1 7.el9_3 sqlite-libs
tar 2 1.34 6.el9_4.1 tar
libssh 0 0.10.4 13.el9 libssh libssh-config
gnutls 0 3.8.3 4.el9_4 gnutls
python3.9 0 3.9.18 3.el9_4.3 python3 python3-libs
zlib 0 1.2.11 40.el9 zlib
bash 0 5.1.8 9.el9 bash
LIST
mkdir -p "$out/var/lib/rpm" "$out/etc"
rpm --root "$out" --dbpath /var/lib/rpm --define '_db_backend sqlite' --initdb
rpm --root "$out" --dbpath /var/lib/rpm --define '_db_backend sqlite' -i --justdb --nodeps --noscripts --notriggers --ignorearch --ignoreos "$top"/RPMS/*/*.rpm
rm -rf "$top"
