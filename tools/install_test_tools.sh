#!/bin/sh
# Install the programs the tests run beside the project, from Debian's packages:
#   dicom3tools (dciodvfy validates every DICOM object the project writes),
#   orthanc + orthanc-dicomweb (a real PACS the networking tests start on loopback),
#   dcmtk (storescu, echoscu: a real scanner's side of the network tests).
# apt-get as root, or through sudo when it asks for no password.
set -e
PACKAGES="dicom3tools orthanc orthanc-dicomweb dcmtk"
if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "error: test tools are missing: install the Debian packages $PACKAGES (apt-get install)" >&2
    exit 1
fi
command -v apt-get >/dev/null || {
    echo "error: test tools are missing and there is no apt-get: install $PACKAGES by hand" >&2
    exit 1
}
$SUDO apt-get update -qq
# the orthanc package would start a system service; the tests start their own, so none is wanted
DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq $PACKAGES >/dev/null
command -v dciodvfy >/dev/null && test -x /usr/sbin/Orthanc && command -v storescu >/dev/null
