#!/bin/sh
# Match exec helper: succeeds for hosts whose name starts with "lab".
case "$1" in lab*) exit 0 ;; *) exit 1 ;; esac
