//! Collects every error of one `#[cached]` use, so that all are reported at once.

use std::fmt::Display;

use quote::ToTokens;

/// The errors found so far; [`Errors::finish`] combines them into one.
#[derive(Default)]
pub(crate) struct Errors {
    error: Option<syn::Error>,
    /// Appended to the messages of [`Errors::error`] while set: what the user
    /// can do about any of them (see [`Errors::with_hint`]).
    hint: Option<&'static str>,
}

impl Errors {
    /// Records an error (which may itself hold several).
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.error {
            Some(errors) => errors.combine(error),
            None => self.error = Some(error),
        }
    }

    /// Records an error pointing at `tokens`.
    pub(crate) fn error(&mut self, tokens: impl ToTokens, message: impl Display) {
        let error = match self.hint {
            Some(hint) => syn::Error::new_spanned(tokens, format!("{message}{hint}")),
            None => syn::Error::new_spanned(tokens, message),
        };
        self.push(error);
    }

    /// Runs `check` with `hint` appended to the messages it records.
    pub(crate) fn with_hint(
        &mut self,
        hint: Option<&'static str>,
        check: impl FnOnce(&mut Errors),
    ) {
        let outer = std::mem::replace(&mut self.hint, hint);
        check(self);
        self.hint = outer;
    }

    /// Whether nothing was recorded so far.
    pub(crate) fn is_empty(&self) -> bool {
        self.error.is_none()
    }

    /// `Ok` when nothing was recorded, else all the errors.
    pub(crate) fn finish(self) -> syn::Result<()> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}
