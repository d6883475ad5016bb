# mmkit — the front door. CMake does the building; this file gives the
# commands people type: make, make test, make demo, make bench.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# build/python/ holds the module for the python3 on PATH (pyenv's, where present)
PYTHON ?= $(shell command -v python3)

# make fuzz: each libFuzzer target runs FUZZ_SECONDS (tests/fuzz/, clang only)
FUZZ_SECONDS ?= 300

.PHONY: all build deps configure test demo bench bench-disk install clean format fuzz

all: build

deps:
	@sh scripts/deps.sh build

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPython3_EXECUTABLE=$(PYTHON) $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

# The test step's packages (clang, Debian's python3-dev, numpy, mypy) come
# first: configuring looks for them.
test:
	@sh scripts/deps.sh test
	@$(MAKE) --no-print-directory build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz: configure
	@sh scripts/deps.sh test
	@sh tests/fuzz/fuzz.sh $(BUILD) $(FUZZ_SECONDS)

demo: build
	@sh scripts/deps.sh demo
	@sh scripts/demo.sh $(BUILD)

bench: build
	@sh scripts/deps.sh bench
	@sh bench/run.sh $(BUILD)

# make bench-disk [MMK_DISK_SIZE=26e9] [MMK_DISK_FILE=PATH]: a text file larger
# than memory, caches dropped before each command (root), mmk against ripgrep
# and the machine's read rate; writes bench/disk/RESULTS.md, removes the file.
# Opt-in: never part of make test (bench/disk/README.md).
bench-disk: build
	@sh scripts/deps.sh bench
	python3 bench/disk/run.py $(BUILD)

# make install [PREFIX=/usr/local]: the library, header, pkg-config and CMake
# files, mmk, its manual page (share/man/man1) and its bash, zsh and fish
# completions (share/bash-completion, share/zsh/site-functions,
# share/fish/vendor_completions.d).
install: build
	cmake --install $(BUILD) $(if $(PREFIX),--prefix $(PREFIX))

format:
	clang-format -i include/*.h src/*.c src/*.h cli/*.c python/*.c tests/*.c tests/*.h examples/*.c tests/fuzz/*.c

clean:
	rm -rf $(BUILD)
