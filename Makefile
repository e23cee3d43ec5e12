# dstack's entry points. Everything real happens in CMake (CMakeLists.txt) and the scripts in tools/.
BUILD_DIR     ?= build
BUILD_TYPE    ?= Release
DSTACK_WERROR ?= OFF
JOBS          ?= $(shell nproc)
CMAKE_ARGS    ?=
SANITIZE      ?= 1
SANITIZE_DIR  ?= build-sanitize
ASAN_OPTIONS  ?= detect_leaks=1:abort_on_error=1:strict_string_checks=1

.PHONY: all build setup configure test sanitize sanitize-build fuzz soak gpu-check bench demo figures gpu-deps clean

all: build

# Installs what a fresh Debian 12 machine lacks (idempotent: apt skips what is installed). The CUDA
# toolkit is not a Debian package here; without it dstack builds with the simulator only.
SETUP_PACKAGES := build-essential cmake git binutils googletest libgtest-dev libbenchmark-dev \
                  libcli11-dev libfmt-dev nlohmann-json3-dev libonnx-dev libprotobuf-dev libyaml-cpp-dev \
                  python3-matplotlib clang libclang-rt-14-dev
setup:
	@missing=$$(for p in $(SETUP_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "ok installed" || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "setup: all packages present"; else \
	  echo "setup: installing $$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; fi

configure:
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DDSTACK_WERROR=$(DSTACK_WERROR) $(CMAKE_ARGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The CPU suite, then (unless SANITIZE=0) the same suite on a CPU-only build under AddressSanitizer
# and UndefinedBehaviorSanitizer (make sanitize).
test: build
	cd $(BUILD_DIR) && ctest -L cpu --output-on-failure -j $(JOBS)
	@if [ "$(SANITIZE)" != 0 ]; then $(MAKE) --no-print-directory sanitize; fi

# The CPU side built by clang with ASan + UBSan (no CUDA: quick) in $(SANITIZE_DIR), with the libFuzzer
# targets of fuzz/, and the CPU suite under it (each fuzz target fuzzing for DSTACK_FUZZ_SECONDS, 10);
# the first report fails the run. LeakSanitizer is on where the machine allows it (see README).
sanitize-build:
	cmake -S . -B $(SANITIZE_DIR) -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" -DDSTACK_ENABLE_CUDA=OFF -DDSTACK_SANITIZE=address,undefined \
	  -DDSTACK_FUZZ=ON -DDSTACK_BUILD_BENCH=OFF -DDSTACK_WERROR=$(DSTACK_WERROR) $(CMAKE_ARGS)
	cmake --build $(SANITIZE_DIR) -j $(JOBS)

sanitize: sanitize-build
	cd $(SANITIZE_DIR) && ASAN_OPTIONS=$(ASAN_OPTIONS) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest -L cpu --output-on-failure -j $(JOBS)

# Every fuzz target (or FUZZ_TARGETS="fuzz_npy ...") for FUZZ_SECONDS (default 600) each, corpora kept
# in $(SANITIZE_DIR)/fuzz/corpus/; a summary in FUZZ_OUT/fuzz_runs.csv (tools/fuzz.sh).
FUZZ_SECONDS ?= 600
FUZZ_OUT     ?= out/fuzz
fuzz: sanitize-build
	ASAN_OPTIONS=$(ASAN_OPTIONS) UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  tools/fuzz.sh $(SANITIZE_DIR) $(FUZZ_SECONDS) $(FUZZ_OUT) $(JOBS)

# The overload soak: every policy at 10x and 100x the demo's load for 30 s of simulated time, each
# run checked (bounded queues and time, every request accounted) with its peak memory (tools/soak.py).
SOAK_OUT ?= results/soak
soak: build
	python3 tools/soak.py --dstack $(BUILD_DIR)/app/dstack --out $(SOAK_OUT)

# Everything that needs a GPU; logs and CSV/JSON under results/gpu-check/<gpu>/. See README.
gpu-check:
	tools/gpu-check.sh

bench: build
	tools/run-bench.sh $(BUILD_DIR)

# The main job: the build and the device, then the four-model demo experiment under D-STACK and
# every baseline on the simulated H100 (results in out/demo_mixed4/).
demo: build
	$(BUILD_DIR)/app/dstack info
	$(BUILD_DIR)/app/dstack run experiments/demo/mixed4.yaml -o out/demo_mixed4

# Every figure and table of the paper (experiments/*/), on the simulated H100 unless BACKEND=gpu:
# into results/figures/ (committed), or with QUICK=1 at reduced sizes into out/figures-quick/.
figures: build
	DSTACK=$(abspath $(BUILD_DIR))/app/dstack tools/figures.sh $(if $(filter 1,$(QUICK)),--quick out/figures-quick,results/figures)

# Packs the dependencies a bare GPU machine lacks into .gpu-deps/ (see README, "GPU machines").
gpu-deps:
	tools/pack-gpu-deps.sh .gpu-deps

clean:
	rm -rf $(BUILD_DIR) $(SANITIZE_DIR)
