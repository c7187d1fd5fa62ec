//! `#[cached(...)]` on an `impl` block: every method taking `&self` is cached
//! with the block's options, as if it carried the attribute; a method's own
//! `#[cached(...)]` adds its tags to the block's and replaces its other
//! options (and caches a method of any receiver); `#[cached(off)]` leaves a
//! method alone, as are methods without `&self`.
//!
//! On a trait impl, the companions go into an inherent impl of the type after
//! it (the trait would have to declare them otherwise), and each method's
//! `Site` with them, so that the method's key path is theirs.
//!
//! Each method goes through the same validation and expansion as a function
//! under the attribute. A method that fails falls back alone (unchanged, with
//! stand-ins for its companions); the errors of a method cached only because
//! of the block say how to leave it uncached.

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote, ToTokens as _};
use syn::visit_mut::VisitMut;
use syn::{Attribute, GenericParam, Ident, ImplItem, ImplItemFn, ItemFn, ItemImpl, Meta, Type};

use crate::ast::Function;
use crate::attr::{self, Options};
use crate::cached_fn::{self, Expansion};
use crate::errors::Errors;
use crate::fallback;
use crate::valid;

/// Appended to the errors of a method that the block caches by default.
const OFF_HINT: &str = " (or mark the method `#[cached(off)]`: the `#[cached]` on its impl block caches every `&self` method)";

/// The whole block: its methods expanded, every error reported after it.
/// The companions of an inherent impl's methods are next to them; those of
/// a trait impl's go into an inherent impl of the same type after it (a
/// trait impl can only hold the trait's items).
pub(crate) fn cached(attr: TokenStream, mut block: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    let shared = attr::parse(attr, &mut errors);
    check_block_options(&shared, &mut errors);
    let block_ok = errors.is_empty();
    let in_trait_impl = block.trait_.is_some();
    // Parameters that an inherent impl of the type can't have.
    let trait_only = trait_only_params(&block);
    let mut skips_used = vec![false; shared.skipped().len()];
    let mut apart = Vec::new();
    let trait_path = block.trait_.as_ref().map(|(_, path, _)| path.clone());
    let assoc_types: Vec<Ident> = block
        .items
        .iter()
        .filter_map(|item| match item {
            ImplItem::Type(ty) => Some(ty.ident.clone()),
            _ => None,
        })
        .collect();
    block.items = std::mem::take(&mut block.items)
        .into_iter()
        .map(|item| match item {
            ImplItem::Fn(method) => {
                let context = Context {
                    shared: &shared,
                    block_ok,
                    in_trait_impl,
                    inherent_ok: trait_only.is_empty(),
                    trait_path: trait_path.as_ref(),
                    assoc_types: &assoc_types,
                };
                let expansion = expand_method(method, &context, &mut errors, &mut skips_used);
                if in_trait_impl {
                    apart.push(expansion.companions);
                    ImplItem::Verbatim(expansion.function)
                } else {
                    ImplItem::Verbatim(expansion.into_tokens())
                }
            }
            other => other,
        })
        .collect();
    for (skipped, used) in shared.skipped().iter().zip(skips_used) {
        if !used {
            errors.error(
                skipped,
                format!("`skip({skipped})`: no cached method of this impl block has an argument named `{skipped}`"),
            );
        }
    }
    let apart: TokenStream = apart.into_iter().collect();
    let inherent = match (apart.is_empty(), trait_only.is_empty()) {
        (true, _) => TokenStream::new(),
        (false, true) => inherent_impl(&block, apart),
        (false, false) => {
            let self_name = block.self_ty.to_token_stream().to_string();
            for ident in trait_only {
                errors.error(
                    &ident,
                    format!("`{ident}` is a parameter of the trait only: the companions of this trait impl's methods go into an `impl {self_name}` of their own, which can't have it; set `companions = false` on the block (or on each method) to generate none"),
                );
            }
            TokenStream::new()
        }
    };
    let errors = errors.finish().err().map(syn::Error::into_compile_error);
    quote!(#block #inherent #errors)
}

/// What every method of the block is expanded with.
struct Context<'a> {
    /// The block's options.
    shared: &'a Options,
    /// Whether they are free of errors.
    block_ok: bool,
    /// Whether the block implements a trait.
    in_trait_impl: bool,
    /// Whether an inherent impl of the type can take the block's generics.
    inherent_ok: bool,
    /// The trait of a trait impl.
    trait_path: Option<&'a syn::Path>,
    /// The associated types the block defines.
    assoc_types: &'a [Ident],
}

/// Rewrites `Self::Item` to `<Self as Trait>::Item` for the associated types
/// of a trait impl: in the inherent impl of the companions, `Self::Item` is
/// ambiguous (E0223); in the trait impl, both mean the same.
struct QualifyAssocTypes<'a> {
    trait_path: &'a syn::Path,
    assoc_types: &'a [Ident],
}

impl VisitMut for QualifyAssocTypes<'_> {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::Path(path) = ty {
            let segments = &path.path.segments;
            if path.qself.is_none()
                && path.path.leading_colon.is_none()
                && segments.len() == 2
                && segments[0].ident == "Self"
                && segments[0].arguments.is_none()
                && self.assoc_types.contains(&segments[1].ident)
            {
                let trait_path = self.trait_path;
                let item = &segments[1];
                *ty = syn::parse_quote!(<Self as #trait_path>::#item);
                return;
            }
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// `impl<..> Type<..> where .. { companions }`: the inherent impl that holds
/// the companions of a trait impl's methods, with the trait impl's generics
/// and `#[cfg]`s.
fn inherent_impl(block: &ItemImpl, companions: TokenStream) -> TokenStream {
    let (impl_generics, _, where_clause) = block.generics.split_for_impl();
    let self_ty = &block.self_ty;
    let cfgs = block
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg"));
    quote! {
        #(#cfgs)*
        impl #impl_generics #self_ty #where_clause {
            #companions
        }
    }
}

/// The generic parameters of a trait impl that its type doesn't use, which
/// the inherent impl of the companions can't have: `impl<T> Load<T> for Repo`
/// has no `impl<T> Repo`.
fn trait_only_params(block: &ItemImpl) -> Vec<Ident> {
    if block.trait_.is_none() {
        return Vec::new();
    }
    let self_ty = block.self_ty.to_token_stream();
    block
        .generics
        .params
        .iter()
        .filter_map(|param| match param {
            GenericParam::Type(param) => Some(&param.ident),
            GenericParam::Const(param) => Some(&param.ident),
            GenericParam::Lifetime(_) => None,
        })
        .filter(|ident| !mentions(self_ty.clone(), ident))
        .cloned()
        .collect()
}

/// Whether `tokens` hold `ident` (at any depth).
fn mentions(tokens: TokenStream, ident: &Ident) -> bool {
    tokens.into_iter().any(|tree| match tree {
        TokenTree::Ident(found) => found == *ident,
        TokenTree::Group(group) => mentions(group.stream(), ident),
        TokenTree::Punct(_) | TokenTree::Literal(_) => false,
    })
}

/// Options that mean nothing on a block.
fn check_block_options(options: &Options, errors: &mut Errors) {
    if let Some(name) = options.name.keyword() {
        errors.error(
            name,
            "`name` can't be set on an impl block: its methods would share their entries; set it on each method",
        );
    }
    if let Some(off) = options.off.keyword() {
        errors.error(
            off,
            "`off` is for a method of a `#[cached]` impl block: `#[cached(off)] fn ...`",
        );
    }
}

/// One method: cached (with its companions), or left as it is.
fn expand_method(
    mut method: ImplItemFn,
    context: &Context<'_>,
    errors: &mut Errors,
    skips_used: &mut [bool],
) -> Expansion {
    let shared = context.shared;
    if let (Some(trait_path), false) = (context.trait_path, context.assoc_types.is_empty()) {
        QualifyAssocTypes {
            trait_path,
            assoc_types: context.assoc_types,
        }
        .visit_impl_item_fn_mut(&mut method);
    }
    let (own, other_attrs): (Vec<Attribute>, Vec<Attribute>) =
        method.attrs.drain(..).partition(is_cached_attr);
    method.attrs = other_attrs;
    let own = own_options(&own, errors);
    let unchanged = |method: &ImplItemFn| Expansion {
        function: quote!(#method),
        companions: TokenStream::new(),
    };
    // Cached only because of the block: its errors say how to opt out.
    let implicit = own.is_none();
    let own = match own {
        Some(own) if own.off.keyword().is_some() => {
            check_off_alone(&own, errors);
            return unchanged(&method);
        }
        Some(own) => own,
        None if takes_ref_self(&method) => Options::default(),
        None => return unchanged(&method),
    };
    let item_fn = ItemFn {
        attrs: method.attrs.clone(),
        vis: method.vis.clone(),
        sig: method.sig.clone(),
        block: Box::new(method.block.clone()),
    };
    let arg_names = arg_names(&item_fn);
    for (skipped, used) in shared.skipped().iter().zip(skips_used.iter_mut()) {
        *used |= arg_names.contains(&skipped);
    }
    let options = own.over(shared, &arg_names);
    let mut function = Function::new(&item_fn, options.skipped());
    function.implicit = implicit;
    function.in_block = true;
    if context.in_trait_impl
        && context.inherent_ok
        && function.async_trait.is_none()
        && wants_any(&options, &function)
    {
        let ident = function.ident();
        function.site_fn = Some(format_ident!(
            "{}{}",
            ident,
            cached_fn::SITE_FN_SUFFIX,
            span = ident.span()
        ));
    }
    let mut method_errors = Errors::default();
    method_errors.with_hint(implicit.then_some(OFF_HINT), |method_errors| {
        valid::check(&options, &function, method_errors)
    });
    match method_errors.finish() {
        Ok(()) if context.block_ok => cached_fn::expand(&options, &function),
        Ok(()) => fallback::stand_in(&method, &options, &function),
        Err(error) => {
            errors.push(error);
            fallback::stand_in(&method, &options, &function)
        }
    }
}

/// Whether the method gets any companion.
fn wants_any(options: &Options, function: &Function<'_>) -> bool {
    let wanted = options.companions(function);
    wanted.invalidate || wanted.refresh || wanted.peek || wanted.many
}

/// The options of the method's own `#[cached(...)]`, if it has one.
fn own_options(attrs: &[Attribute], errors: &mut Errors) -> Option<Options> {
    let (first, rest) = attrs.split_first()?;
    for duplicate in rest {
        errors.error(duplicate, "this method has `#[cached]` twice");
    }
    let tokens = match &first.meta {
        Meta::Path(_) => TokenStream::new(),
        Meta::List(list) => list.tokens.clone(),
        Meta::NameValue(_) => {
            errors.error(first, "expected `#[cached]` or `#[cached(...)]`");
            TokenStream::new()
        }
    };
    Some(attr::parse(tokens, errors))
}

/// `#[cached(off)]` takes no other option.
fn check_off_alone(own: &Options, errors: &mut Errors) {
    let keywords = [
        own.ttl.keyword(),
        own.jitter.keyword(),
        own.stale.keyword(),
        own.refresh_ahead.keyword(),
        own.fail_safe.keyword(),
        own.tags.keyword(),
        own.key.keyword(),
        own.cache.keyword(),
        own.skip.keyword(),
        own.name.keyword(),
        own.version.keyword(),
        own.lock.keyword(),
        own.unless.keyword(),
        own.companions.keyword(),
    ];
    for keyword in keywords.into_iter().flatten() {
        errors.error(
            keyword,
            format!("`{keyword}` has no effect with `off`: the method is not cached"),
        );
    }
}

/// `#[cached]`, `#[cached(...)]`, `#[cachetool::cached(...)]`.
fn is_cached_attr(attr: &Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|last| last.ident == "cached")
}

/// `&self`, `&'a self`, `self: &Self`: what the block caches by default.
fn takes_ref_self(method: &ImplItemFn) -> bool {
    method.sig.receiver().is_some_and(|receiver| {
        matches!(&*receiver.ty, Type::Reference(reference) if reference.mutability.is_none())
    })
}

/// The names of the method's arguments (what the block's `skip` can name).
fn arg_names(item: &ItemFn) -> Vec<&Ident> {
    item.sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(pat_type) => match &*pat_type.pat {
                syn::Pat::Ident(pat) => Some(&pat.ident),
                _ => None,
            },
            syn::FnArg::Receiver(_) => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use quote::quote;
    use syn::parse_quote;

    use super::*;

    fn expand(attr: TokenStream, block: ItemImpl) -> String {
        cached(attr, block).to_string()
    }

    #[test]
    fn which_methods_the_block_caches() {
        let method: ImplItemFn = parse_quote!(
            fn f(&self) {}
        );
        assert!(takes_ref_self(&method));
        let method: ImplItemFn = parse_quote!(
            fn f(self: &Self) {}
        );
        assert!(takes_ref_self(&method));
        for method in [
            quote!(
                fn f(&mut self) {}
            ),
            quote!(
                fn f(self) {}
            ),
            quote!(
                fn f(self: std::sync::Arc<Self>) {}
            ),
            quote!(
                fn f() {}
            ),
        ] {
            let method: ImplItemFn = syn::parse2(method).unwrap();
            assert!(!takes_ref_self(&method), "{}", quote!(#method));
        }
    }

    #[test]
    fn companions_for_the_cached_methods_only() {
        let out = expand(
            quote!(ttl = 5),
            parse_quote! {
                impl Repo {
                    fn get(&self, id: u64) -> u64 { id }
                    #[cached(off)]
                    fn off(&self, id: u64) -> u64 { id }
                    fn new() -> Repo { Repo }
                    fn set(&mut self, id: u64) {}
                    #[cachetool::cached(companions = [invalidate])]
                    fn owned(self, id: u64) -> u64 { id }
                }
            },
        );
        for present in [
            "fn get_invalidate",
            "fn get_refresh",
            "fn get_peek",
            "fn get_many",
            "fn owned_invalidate",
        ] {
            assert!(out.contains(present), "{present} in {out}");
        }
        for absent in [
            "fn off_",
            "fn new_",
            "fn set_",
            "fn owned_refresh",
            "# [cached",
            "compile_error",
        ] {
            assert!(!out.contains(absent), "{absent} in {out}");
        }
    }

    #[test]
    fn a_failing_method_falls_back_alone_with_the_hint() {
        let out = expand(
            quote!(),
            parse_quote! {
                impl Repo {
                    fn name(&self) -> &str { "" }
                    fn get(&self, id: u64) -> u64 { id }
                }
            },
        );
        assert!(out.contains("mark the method `#[cached(off)]`"), "{out}");
        assert!(out.contains("fn get_many"), "{out}");
        // The failing method's stand-ins: no `_refresh` or `_peek` with its broken type.
        assert!(out.contains("fn name_invalidate"), "{out}");
        assert!(!out.contains("fn name_peek"), "{out}");
    }
}
