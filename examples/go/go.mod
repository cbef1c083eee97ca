module nook.dev/nook/examples/go

go 1.19

require nook.dev/nook v0.0.0

// The binding lives in this repository (ffi/go); no third-party modules.
replace nook.dev/nook => ../../ffi/go
