# dstack's entry points. Everything real happens in CMake (CMakeLists.txt) and the scripts in tools/.
BUILD_DIR     ?= build
BUILD_TYPE    ?= Release
DSTACK_WERROR ?= OFF
JOBS          ?= $(shell nproc)
CMAKE_ARGS    ?=

.PHONY: all build setup configure test gpu-check bench demo figures gpu-deps clean

all: build

# Installs what a fresh Debian 12 machine lacks (idempotent: apt skips what is installed). The CUDA
# toolkit is not a Debian package here; without it dstack builds with the simulator only.
SETUP_PACKAGES := build-essential cmake git binutils googletest libgtest-dev libbenchmark-dev \
                  libcli11-dev libfmt-dev nlohmann-json3-dev libonnx-dev libprotobuf-dev libyaml-cpp-dev \
                  python3-matplotlib
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

test: build
	cd $(BUILD_DIR) && ctest -L cpu --output-on-failure -j $(JOBS)

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
	rm -rf $(BUILD_DIR)
