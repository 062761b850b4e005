#!/bin/sh
# Install dicom3tools (dciodvfy, which the tests run on every DICOM object the project writes).
# Debian/Ubuntu: apt-get as root, or through sudo when it asks for no password.
set -e
if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
else
    echo "error: dciodvfy is missing: install the Debian package dicom3tools (apt-get install dicom3tools)" >&2
    exit 1
fi
command -v apt-get >/dev/null || {
    echo "error: dciodvfy is missing and there is no apt-get: install dicom3tools by hand" >&2
    exit 1
}
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dicom3tools >/dev/null
command -v dciodvfy >/dev/null
