# Conveniences over the scripts in scripts/ (each one documents itself).
.PHONY: install test demo packages

install:            ## build and install from source (sudo make install); enables nothing
	scripts/install.sh

test:               ## all tests (the test binaries run through sudo)
	scripts/test.sh

demo:               ## a throwaway sshd with pam_mfa on 127.0.0.1:2222 (sudo make demo)
	scripts/demo.sh

packages:           ## .deb and .rpm packages into target/packages/ (docs/packaging.md)
	scripts/build-packages.sh
