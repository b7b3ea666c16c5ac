# fc-tools - Lambda-style functions in microVMs
VERSION = 0.1.0
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/fc-tools
SHAREDIR = $(PREFIX)/share/fc-tools
MANDIR = $(PREFIX)/share/man

CC ?= cc
PKGS = libarchive libcurl libcrypto
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
PROGS = fc-build fc-snap fc-restore fc-invoke fc-poold
BINS = $(PROGS:%=build/%)
AGENT = build/fc-agent
UNIT_SRC = $(wildcard tests/unit/test_*.c)
UNIT = $(UNIT_SRC:tests/unit/%.c=build/tests/%)

# V=1 shows the full compiler command lines.
ifeq ($(V),1)
Q =
else
Q = @
endif

all: $(BINS) $(AGENT)

build/lib/%.o: lib/%.c lib/*.h
	@mkdir -p $(@D)
	@echo "  CC    $<"
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

build/libfc.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

# The programs compile PREFIX's paths in: rebuild them when it changes.
PREFIX_STAMP = build/.prefix-$(subst /,_,$(PREFIX))
$(PREFIX_STAMP):
	@mkdir -p build && rm -f build/.prefix-* && touch $@

build/%: %/main.c build/libfc.a $(PREFIX_STAMP)
	@mkdir -p $(@D)
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -o $@ $< build/libfc.a $(PKG_LIBS)

# fc-poold is several files (fc-poold/poold.h joins them); a thread of
# its own starts each VMM.
build/fc-poold: fc-poold/*.c fc-poold/*.h build/libfc.a
	@mkdir -p $(@D)
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -pthread -o $@ fc-poold/*.c \
		build/libfc.a $(PKG_LIBS)

# The agent is PID 1 in the guest: static, no libarchive/libcurl.
AGENT_LIB = lib/err.c lib/frame.c
$(AGENT): agent/agent.c $(AGENT_LIB) lib/*.h
	@mkdir -p $(@D)
	@echo "  LINK  $@ (static)"
	$(Q)$(CC) $(ALL_CFLAGS) -static -o $@ agent/agent.c $(AGENT_LIB)

build/tests/%: tests/unit/%.c build/libfc.a tests/unit/tap.h
	@mkdir -p $(@D)
	@echo "  LINK  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Itests/unit -o $@ $< build/libfc.a $(PKG_LIBS)

# --- set-up: packages and the guest kernel -----------------------------

deps:
	@scripts/deps.sh

# Debian's kernel, its ELF vmlinux and modules, cached outside the clone.
guest: deps
	@scripts/guest-kernel.sh >/dev/null

# --- the main job on a sample function -----------------------------------

DEMO = build/demo
demo: deps guest all
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	cd examples/hello && zip -q -r ../../$(DEMO)/hello.zip .
	build/fc-build $(DEMO)/hello.zip -o $(DEMO)/hello.img
	build/fc-snap $(DEMO)/hello.img -o $(DEMO)/hello.snap
	echo '{"name":"Ada"}' | build/fc-invoke $(DEMO)/hello.snap

# --- tests ----------------------------------------------------------------

check: deps guest all $(UNIT)
	@for t in $(UNIT); do echo "# $$t"; $$t || exit 1; done
	bats --print-output-on-failure tests/

bench: deps guest all
	bench/boot-vs-restore
	bench/pool

# --- install --------------------------------------------------------------

MANPAGES = $(wildcard man/*.[1-8])
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SHAREDIR)/runtime
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 755 $(AGENT) $(DESTDIR)$(LIBEXECDIR)/fc-agent
	install -m 644 runtime/bootstrap.js $(DESTDIR)$(SHAREDIR)/runtime/
	for m in $(MANPAGES); do s=$${m##*.}; \
		install -d $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(BINDIR)/%)
	rm -rf $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SHAREDIR)
	for m in $(MANPAGES); do s=$${m##*.}; \
		rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m#man/}; done

lint-man:
	mandoc -Tlint -Wwarning $(MANPAGES)

.PHONY: all clean deps guest demo check bench install uninstall lint-man
clean:
	rm -rf build
