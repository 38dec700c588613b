# Front door for humans and CI. `make run` and `make test` work on a fresh Debian 12 machine:
# they install whatever Debian packages are missing, configure, build, and run.
DEB_PACKAGES := build-essential cmake pkg-config python3 liburing-dev libyaml-cpp-dev libspdlog-dev catch2 \
                libsystemd-dev nlohmann-json3-dev libcli11-dev systemd-container clang libclang-rt-14-dev clang-format \
                prometheus haproxy man-db groff-base
JOBS         ?= $(shell nproc)
BUILD        ?= build
ASAN_BUILD   ?= build-asan
# Release builds as a packager makes them (gcc, then clang): daemon, plugins, SDK, tools, bench; no tests.
RELEASE_BUILD ?= build-release
CLANG_BUILD  ?= build-clang
# Warnings are errors (RINGD_WERROR) in `make test` and so in CI; a plain `make build`/`make run` (and a
# packager's own cmake) only shows them.
WERROR       ?= OFF
CONFIG       ?= etc/ringd/ringd.yaml
SUDO         := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all deps configure build run test test-fast asan release-builds fuzz deb clean format

all: build

# Install only what is missing, so a machine that has everything never touches apt.
deps:
	@missing=$$(for p in $(DEB_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing missing packages:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing || \
	  { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; }; \
	fi

# $(call werror,DIR,ON|OFF): an already configured DIR is re-configured only when its RINGD_WERROR differs.
werror = @grep -qx 'RINGD_WERROR:BOOL=$(2)' $(1)/CMakeCache.txt || cmake -S . -B $(1) -DRINGD_WERROR=$(2)

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr -DRINGD_WERROR=$(WERROR)

build: deps $(BUILD)/CMakeCache.txt
	$(call werror,$(BUILD),$(WERROR))
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DRINGD_SANITIZE=ON -DRINGD_WERROR=$(WERROR)

asan: deps $(ASAN_BUILD)/CMakeCache.txt
	$(call werror,$(ASAN_BUILD),$(WERROR))
	cmake --build $(ASAN_BUILD) -j $(JOBS)

$(RELEASE_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(RELEASE_BUILD) -DCMAKE_BUILD_TYPE=Release -DRINGD_BUILD_TESTS=OFF -DRINGD_WERROR=ON

$(CLANG_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(CLANG_BUILD) -DCMAKE_BUILD_TYPE=Release -DRINGD_BUILD_TESTS=OFF -DRINGD_WERROR=ON \
	  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++

# A packager's `cmake -DCMAKE_BUILD_TYPE=Release` with gcc and with clang must build warning-free (-O3 brings
# warnings of its own, such as GCC 12's -Wrestrict). Built, not tested: the test suite runs on $(BUILD) and
# $(ASAN_BUILD).
release-builds: deps $(RELEASE_BUILD)/CMakeCache.txt $(CLANG_BUILD)/CMakeCache.txt
	$(call werror,$(RELEASE_BUILD),ON)
	cmake --build $(RELEASE_BUILD) -j $(JOBS)
	$(call werror,$(CLANG_BUILD),ON)
	cmake --build $(CLANG_BUILD) -j $(JOBS)

# Foreground, shipped config, plugins from the build tree. Ctrl-C stops it.
run: build
	$(BUILD)/daemon/ringd -c $(CONFIG) --plugin-dir $(BUILD)/plugins

# Every test through ctest: the normal build, then the whole suite again under ASan+UBSan; warnings are errors
# in these builds and in the gcc and clang Release builds, which are built first.
test: WERROR = ON
test: release-builds build asan
	ctest --test-dir $(BUILD) --output-on-failure -j 2
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j 2 -LE 'systemd|bench|lint|prometheus'

# The normal build's suite only (quick local iteration).
test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j 2

# libFuzzer targets (clang) for the remote-cmd frame decoder, argv splitter and line assembler, the admin
# listener's HTTP request parser and the PROXY protocol codec, each run briefly.
fuzz: deps
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DRINGD_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) && ctest --test-dir build-fuzz -L fuzz --output-on-failure

# A .deb of daemon, plugins and SDK (the build tree is configured for /usr, as Debian wants).
deb: build
	cpack --config $(BUILD)/CPackConfig.cmake -B $(BUILD)/packages

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp' '*.h' '*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(RELEASE_BUILD) $(CLANG_BUILD)
