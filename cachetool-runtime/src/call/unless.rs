//! `#[cached(unless = |value| ...)]`: values that are returned but not stored.
//!
//! The macro builds the predicate with [`unless_value`] or [`unless_ok`], which
//! name the value's type from the function's return type, so the closure's
//! argument needs no annotation. The request keeps it type-erased
//! ([`StoreUnless`]) and the store asks it (`store.rs`, `local.rs`).

use std::any::Any;
use std::marker::PhantomData;

use super::Request;

/// A predicate over a value of any type: true when it must not be stored.
pub trait StoreUnless {
    /// Whether `value` must not be stored (false for a value of another type,
    /// which the macro never hands over).
    fn skips(&self, value: &dyn Any) -> bool;
}

/// The closure of `unless = ...`, for values of type `T`.
pub struct Unless<T, F> {
    predicate: F,
    value: PhantomData<fn(&T)>,
}

impl<T: 'static, F: Fn(&T) -> bool> StoreUnless for Unless<T, F> {
    fn skips(&self, value: &dyn Any) -> bool {
        value
            .downcast_ref::<T>()
            .is_some_and(|value| (self.predicate)(value))
    }
}

/// `unless = ...` of a function returning `R`: the predicate sees an `&R`.
pub fn unless_value<R, F: Fn(&R) -> bool>(_returns: PhantomData<R>, predicate: F) -> Unless<R, F> {
    Unless {
        predicate,
        value: PhantomData,
    }
}

/// `unless = ...` of a function returning `Result<T, E>`: the predicate sees
/// the `&T` of an `Ok` (an `Err` is never stored anyway).
pub fn unless_ok<T, E, F: Fn(&T) -> bool>(
    _returns: PhantomData<Result<T, E>>,
    predicate: F,
) -> Unless<T, F> {
    Unless {
        predicate,
        value: PhantomData,
    }
}

impl<'c> Request<'c> {
    /// Stores no value for which `unless` is true (it is still returned, and
    /// handed to the callers waiting for it).
    pub fn unless(mut self, unless: &'c (dyn StoreUnless + Sync)) -> Request<'c> {
        self.unless = Some(unless);
        self
    }

    /// Whether `value` must not be stored.
    pub(crate) fn skips_store(&self, value: &dyn Any) -> bool {
        // An expired value that `fail_safe` returned for a failed body
        // (`fail_safe.rs`) is not stored again either.
        self.unless.is_some_and(|unless| unless.skips(value))
            || (self.fail_safe.get().is_some() && self.answered_with_old())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predicate_sees_the_value_or_the_ok_value() {
        let empty = unless_value(PhantomData::<Vec<u8>>, |value| value.is_empty());
        assert!(empty.skips(&Vec::<u8>::new()));
        assert!(!empty.skips(&vec![1u8]));
        let zero = unless_ok(PhantomData::<Result<u32, String>>, |value| *value == 0);
        assert!(zero.skips(&0u32));
        assert!(!zero.skips(&1u32));
        assert!(!zero.skips(&0u64), "another type is never skipped");
    }
}
