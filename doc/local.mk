# SPDX-License-Identifier: MIT
# Documentation shipped in the tarball (included by the top-level Makefile.am).
EXTRA_DIST += doc/performance.md doc/performance.svg doc/http.svg
