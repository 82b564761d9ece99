//! The allocator every binary and test of the crate runs on.
//!
//! Model checking clones and drops millions of small states; glibc's
//! allocator spends more time than the checker on that churn. Declared in
//! the library, it serves the test binaries too, so the catalogue test
//! measures what `insync check` does.

#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
