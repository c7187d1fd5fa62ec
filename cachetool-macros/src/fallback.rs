//! What `#[cached]` emits when it found errors: the user's item unchanged,
//! stand-ins for the companions it would have generated (bodies that are
//! `unreachable!()`), and the errors. The callers of the function and of its
//! companions then see no errors of their own ("cannot find function
//! `load_invalidate`"), only the ones that say what to fix.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::ast::Function;
use crate::attr::{Companions, Options};
use crate::cached_fn::Expansion;
use crate::companions;
use crate::expand::Call;
use crate::many;
use crate::valid;

/// The function unchanged, stand-ins for its companions, and the errors.
pub(crate) fn function(
    item: impl ToTokens,
    options: &Options,
    function: &Function<'_>,
    error: syn::Error,
) -> TokenStream {
    let stand_in = stand_in(item, options, function).into_tokens();
    let error = error.into_compile_error();
    quote!(#stand_in #error)
}

/// The function unchanged, and stand-ins for its companions: also what a
/// valid method of an impl block with errors of its own becomes.
pub(crate) fn stand_in(
    item: impl ToTokens,
    options: &Options,
    function: &Function<'_>,
) -> Expansion {
    Expansion {
        function: item.into_token_stream(),
        companions: stubs(function, options.companions(function)),
    }
}

/// What is neither a function nor an impl block, unchanged, and the error:
/// a trait's method declaration gets one of its own.
pub(crate) fn not_an_item(item: TokenStream, error: syn::Error) -> TokenStream {
    let error = match syn::parse2::<syn::TraitItemFn>(item.clone()) {
        Ok(declaration) if declaration.default.is_none() => syn::Error::new_spanned(
            declaration.sig,
            "#[cached] needs the function's body: put it on the method in the `impl` block",
        ),
        _ => error,
    };
    let error = error.into_compile_error();
    quote!(#item #error)
}

/// Stand-ins for the companions, with their signatures and `unreachable!()`
/// bodies.
fn stubs(function: &Function<'_>, wanted: Companions) -> TokenStream {
    if function.async_trait.is_some() {
        return TokenStream::new();
    }
    let unreachable = quote!({ ::core::unreachable!() });
    let invalidate = wanted.invalidate.then(|| {
        let sig = companions::signature(function, Call::Invalidate);
        companions::companion(function, Call::Invalidate, &sig, unreachable.clone())
    });
    // Companions with the same broken return type would repeat its errors.
    if valid::output_problem(function).is_some() {
        return quote!(#invalidate);
    }
    let with_output = [(Call::Refresh, wanted.refresh), (Call::Peek, wanted.peek)]
        .into_iter()
        .filter(|(_, wanted)| *wanted)
        .map(|(call, _)| {
            let sig = companions::signature(function, call);
            companions::companion(function, call, &sig, unreachable.clone())
        });
    let many = wanted.many.then(|| many::stub(function));
    quote!(#invalidate #(#with_output)* #many)
}
