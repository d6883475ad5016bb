# mmkit — the front door. CMake does the building; this file gives the
# commands people type: make, make test, make demo, make bench.
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all build deps configure test demo bench clean format

all: build

deps:
	@sh scripts/deps.sh build

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

configure: $(BUILD)/CMakeCache.txt

build: deps configure
	cmake --build $(BUILD) -j $(JOBS)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

demo: build
	@sh scripts/deps.sh demo
	@sh scripts/demo.sh $(BUILD)

bench: build
	@sh scripts/deps.sh bench
	@sh bench/run.sh $(BUILD)

format:
	clang-format -i include/*.h src/*.c src/*.h cli/*.c python/*.c tests/*.c tests/*.h examples/*.c

clean:
	rm -rf $(BUILD)
