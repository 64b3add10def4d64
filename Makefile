# breakwater - see README.md. `make`, `make test`, `make demo`, `make bench`, `make install`.

VERSION  := 0.1.0
PREFIX   ?= /usr/local
LIBDIR   ?= $(PREFIX)/lib/breakwater
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)
CC       ?= cc
BUILD    ?= build
CFLAGS   ?= -O2 -g
BW_CFLAGS := -std=gnu11 -Wall -Wextra -fPIC -fvisibility=hidden -fexceptions -D_GNU_SOURCE \
             -DBW_VERSION='"$(VERSION)"' -DBW_MULTIARCH='"$(MULTIARCH)"' \
             -Iinclude -pthread $(CPPFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS_SO := -linih -ldl -pthread
LDLIBS_UNIT := -lcunit -linih -lm -pthread

CORE_SRC    := $(sort $(wildcard src/core/*.c) $(wildcard src/sys/*.c))
PRELOAD_SRC := $(sort $(wildcard src/preload/*.c))
CLI_SRC     := $(sort $(wildcard src/cli/*.c))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
SUPPORT_SRC := $(sort $(wildcard tests/support/*.c))

CORE_OBJ    := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
PRELOAD_OBJ := $(PRELOAD_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ     := $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
SUPPORT_BIN := $(SUPPORT_SRC:tests/support/%.c=$(BUILD)/tests/support/%)

LIB  := $(BUILD)/libbreakwater.so
CLI  := $(BUILD)/breakwater
CORE := $(BUILD)/libbwcore.a

.PHONY: all test unit e2e demo bench install install-files deb clean deps check-deps fuzz sanitize valgrind
all: check-deps $(LIB) $(CLI)

# Build and test dependencies: installed when root, else the apt-get line is printed.
DEB_BUILD := gcc make libinih-dev libcunit1-dev pkg-config
check-deps:
	@sh tests/deps.sh build $(DEB_BUILD)

$(BUILD)/obj/%.o: %.c $(wildcard include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BW_CFLAGS) -MMD -c $< -o $@

# The signal-installer hooks run while a sanitizer runtime preloaded before the
# shim is still starting (TSan installs its handlers through them): they must
# not carry TSan's own function-entry instrumentation.
$(BUILD)/obj/src/preload/signals.o: BW_CFLAGS += -fno-sanitize=thread
$(BUILD)/obj/src/preload/signals.o: Makefile

$(CORE): $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(LIB): $(PRELOAD_OBJ) $(CORE)
	$(CC) $(BW_CFLAGS) $(LDFLAGS) -shared -Wl,-z,defs -Wl,-soname,libbreakwater.so \
	    -o $@ $(PRELOAD_OBJ) $(CORE) $(LDLIBS_SO)

$(CLI): $(CLI_OBJ) $(CORE)
	$(CC) $(BW_CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(CORE) $(LDLIBS_SO)

$(BUILD)/tests/unit/%: tests/unit/%.c tests/unit/bw_test.h $(CORE)
	@mkdir -p $(dir $@)
	$(CC) $(BW_CFLAGS) -Itests/unit -o $@ $< $(CORE) $(LDLIBS_UNIT)

$(BUILD)/tests/support/%: tests/support/%.c $(wildcard tests/support/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(BW_CFLAGS) -o $@ $< -pthread -ldl

unit: $(UNIT_BIN)
	@sh tests/unit/run.sh $(UNIT_BIN)

e2e: all $(SUPPORT_BIN)
	@sh tests/deps.sh test
	@BUILD=$(abspath $(BUILD)) bash tests/e2e/run.sh

# Also part of `make test`; these run one of its stages alone.
sanitize: check-deps
	@BUILD=$(abspath $(BUILD)) bash tests/sanitize.sh

valgrind: all $(SUPPORT_BIN)
	@BUILD=$(abspath $(BUILD)) bash tests/valgrind.sh

test: all $(UNIT_BIN) $(SUPPORT_BIN)
	@sh tests/deps.sh test
	@BUILD=$(abspath $(BUILD)) bash tests/run-all.sh $(UNIT_BIN)

demo: all $(SUPPORT_BIN)
	@BUILD=$(abspath $(BUILD)) bash tests/demo.sh

bench: all $(SUPPORT_BIN)
	@BUILD=$(abspath $(BUILD)) bash tests/bench/run.sh

install: all install-files

# LIBDIR: where the library goes ($(PREFIX)/lib/breakwater; the Debian package
# uses the multiarch directory). `breakwater run` looks in both, relative to
# its own executable. The systemd drop-in names the library where it went.
install-files:
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/doc/breakwater
	install -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libbreakwater.so
	install -m 0755 $(CLI) $(DESTDIR)$(PREFIX)/bin/breakwater
	install -m 0644 conf/breakwater.ini $(DESTDIR)$(PREFIX)/share/doc/breakwater/breakwater.ini.example
	sed 's|/usr/local/lib/breakwater/|$(LIBDIR)/|' conf/systemd/breakwater.conf \
	    >$(DESTDIR)$(PREFIX)/share/doc/breakwater/systemd-dropin.conf
	chmod 0644 $(DESTDIR)$(PREFIX)/share/doc/breakwater/systemd-dropin.conf
	install -m 0644 man/breakwater.1 $(DESTDIR)$(PREFIX)/share/man/man1/breakwater.1
	install -m 0644 man/breakwater.ini.5 $(DESTDIR)$(PREFIX)/share/man/man5/breakwater.ini.5

# The Debian package (debian/): build-deb/breakwater_$(VERSION)_amd64.deb.
deb:
	@sh tests/deps.sh deb
	dpkg-buildpackage -us -uc -b
	mkdir -p build-deb && mv ../breakwater_$(VERSION)_* ../breakwater-dbgsym_$(VERSION)_* build-deb/
	@ls build-deb/*.deb

clean:
	rm -rf $(BUILD)

-include $(CORE_OBJ:.o=.d) $(PRELOAD_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
