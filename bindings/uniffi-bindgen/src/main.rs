//! `uniffi-bindgen`, pinned to the workspace's UniFFI version so that the generated bindings
//! always match the scaffolding compiled into `carnet-ffi`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
