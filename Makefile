# fc-tools - Lambda-style functions in microVMs
VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/fc-tools
SHAREDIR = $(PREFIX)/share/fc-tools
MANDIR = $(PREFIX)/share/man

CC ?= cc
PKGS = libarchive libcurl
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wno-unused-parameter -Wformat=2
ifeq ($(WERROR),1)
WARN += -Werror
endif
CFLAGS ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) -Ilib \
	-DFC_VERSION='"$(VERSION)"' -DFC_LIBEXECDIR='"$(LIBEXECDIR)"' \
	-DFC_SHAREDIR='"$(SHAREDIR)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:%.c=build/%.o)
PROGS = fc-build fc-snap fc-invoke
BINS = $(PROGS:%=build/%)
AGENT = build/fc-agent
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT = $(UNIT_SRC:tests/unit/%.c=build/tests/%)

all: $(BINS) $(AGENT)

build/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/libfc.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

build/%: %/main.c build/libfc.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -o $@ $< build/libfc.a $(PKG_LIBS)

# The agent is PID 1 in the guest: static, no libarchive/libcurl.
AGENT_LIB = lib/err.c lib/frame.c
$(AGENT): agent/agent.c $(AGENT_LIB) lib/*.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -static -o $@ agent/agent.c $(AGENT_LIB)

build/tests/%: tests/unit/%.c build/libfc.a tests/unit/tap.h
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/libfc.a $(PKG_LIBS)

.PHONY: all clean
clean:
	rm -rf build
