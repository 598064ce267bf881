# Conveniences over the scripts in scripts/ (each one documents itself).
.PHONY: install test demo

install:            ## build and install from source (sudo make install); enables nothing
	scripts/install.sh

test:               ## all tests (the test binaries run through sudo)
	scripts/test.sh

demo:               ## a throwaway sshd with pam_mfa on 127.0.0.1:2222 (sudo make demo)
	scripts/demo.sh
