//! A cache hint for the sketches: start loading what a later step of a batch will touch.
//!
//! The one `unsafe` in the core: a prefetch never faults and never changes memory, and the hint
//! is only given for an element that exists.
#![allow(unsafe_code)]

/// Asks the CPU to bring `slice[index]` into cache; does nothing where unsupported.
#[inline(always)]
pub fn prefetch<T>(slice: &[T], index: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = slice.get(index) {
        // SAFETY: _mm_prefetch only hints the cache; the pointer is to a live element.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>((x as *const T).cast::<i8>()) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, index);
}
