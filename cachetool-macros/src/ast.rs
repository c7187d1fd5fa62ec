//! The typed view of the function under `#[cached]`: its receiver, the role
//! of each argument in the key, and the kind of its return value.

use quote::format_ident;
use syn::spanned::Spanned as _;
use syn::{
    Attribute, FnArg, GenericParam, Ident, ItemFn, Pat, PatIdent, PatType, Receiver, ReturnType,
    Signature, Type,
};

/// The function, seen by the macro.
pub(crate) struct Function<'a> {
    /// As the user wrote it.
    pub(crate) item: &'a ItemFn,
    /// `self`, `&self`, `self: Arc<Self>`...; `None` for free and associated functions.
    pub(crate) receiver: Option<&'a Receiver>,
    /// The arguments after the receiver, in order.
    pub(crate) args: Vec<Arg<'a>>,
    /// What the function returns (for an `#[async_trait]` method, what its future yields).
    pub(crate) output: Output<'a>,
    /// The `async move { .. }` of a method that `#[async_trait]` has already
    /// rewritten to `fn ... -> Pin<Box<dyn Future<Output = R> + Send + 'async_trait>>`
    /// with the body `Box::pin(async move { .. })`.
    pub(crate) async_trait: Option<&'a syn::ExprAsync>,
    /// Cached because its impl block is, without an attribute of its own:
    /// its errors say how to leave it uncached.
    pub(crate) implicit: bool,
    /// A method of a `#[cached]` impl block, which gets every companion by
    /// default (see `Options::companions`).
    pub(crate) in_block: bool,
    /// In a `#[cached]` trait impl: the function of the separate inherent
    /// impl that holds the method's `Site`, so that its key path is the one
    /// of its companions there (`app.Disk.load`, not `<app.Disk as app.Store>.load`).
    pub(crate) site_fn: Option<Ident>,
}

/// One argument (not the receiver).
pub(crate) struct Arg<'a> {
    /// `pattern: Type`, as written.
    pub(crate) pat_type: &'a PatType,
    /// What it is to the key.
    pub(crate) role: Role<'a>,
}

/// What an argument is to the key.
pub(crate) enum Role<'a> {
    /// `x: T` or `mut x: T`: hashed into the key as `&x`.
    Key(&'a Ident),
    /// Named in `skip(...)`: left out of the key.
    Skipped(&'a Ident),
    /// `_: T`: never in the key, since nothing can read it.
    Wildcard,
    /// Any other pattern, such as `(a, b): (u32, u32)`: renamed to this
    /// identifier in the signature, hashed under it, and destructured again at
    /// the start of the body.
    Pattern(Ident),
}

/// What the function returns.
pub(crate) enum Output<'a> {
    /// No `->`: `()`, cached like any value.
    Unit,
    /// Any other type: cached as it is.
    Value(&'a Type),
    /// `Result<T, E>`, `io::Result<T>`...: only `Ok` is cached.
    Result(&'a Type),
}

impl<'a> Function<'a> {
    /// Reads `item`; `skip` are the names in `skip(...)` (those naming no
    /// argument are reported by `valid.rs`).
    pub(crate) fn new(item: &'a ItemFn, skip: &[Ident]) -> Self {
        let mut receiver = None;
        let mut args = Vec::new();
        for input in &item.sig.inputs {
            match input {
                FnArg::Receiver(this) => receiver = Some(this),
                FnArg::Typed(pat_type) => {
                    let role = Role::of(pat_type, args.len(), skip);
                    args.push(Arg { pat_type, role });
                }
            }
        }
        let async_trait = async_trait_parts(item);
        let output = match (&item.sig.output, async_trait) {
            (_, Some((output, _))) => Output::of(output),
            (ReturnType::Default, None) => Output::Unit,
            (ReturnType::Type(_, ty), None) => Output::of(ty),
        };
        Function {
            item,
            receiver,
            args,
            output,
            async_trait: async_trait.map(|(_, body)| body),
            implicit: false,
            in_block: false,
            site_fn: None,
        }
    }

    /// Whether it is an `async fn` (not an `#[async_trait]` method, whose
    /// signature is not).
    pub(crate) fn is_async(&self) -> bool {
        self.item.sig.asyncness.is_some()
    }

    /// The arguments that `{name}_many` takes once per item: those of the key
    /// (with `key = ...`, which may use any argument, every one not `_`); the
    /// others it takes once for all items.
    pub(crate) fn item_args(&self) -> impl Iterator<Item = &Arg<'a>> {
        self.args.iter().filter(|arg| arg.is_key())
    }

    /// Where the `unless` expression first uses one of `names` (other than
    /// the closure's own parameters): an argument it borrows.
    pub(crate) fn unless_uses(&self, unless: &syn::Expr, names: &[&Ident]) -> Option<Ident> {
        let (own, body) = match unless {
            syn::Expr::Closure(closure) => {
                let own: Vec<Ident> = closure.inputs.iter().flat_map(pattern_idents).collect();
                (own, quote::ToTokens::to_token_stream(&closure.body))
            }
            other => (Vec::new(), quote::ToTokens::to_token_stream(other)),
        };
        let names: Vec<&Ident> = names
            .iter()
            .copied()
            .filter(|name| !own.contains(name))
            .collect();
        first_mention(body, &names)
    }

    /// The names by which the `unless` expression can reach the arguments.
    pub(crate) fn arg_names(&self) -> Vec<&Ident> {
        self.args.iter().filter_map(Arg::name).collect()
    }

    /// The function's name.
    pub(crate) fn ident(&self) -> &'a Ident {
        &self.item.sig.ident
    }

    /// The type parameters, whose names are part of the key.
    pub(crate) fn type_params(&self) -> impl Iterator<Item = &'a Ident> {
        self.item
            .sig
            .generics
            .type_params()
            .map(|param| &param.ident)
    }

    /// The const parameters, whose values are part of the key.
    pub(crate) fn const_params(&self) -> impl Iterator<Item = &'a Ident> {
        self.item
            .sig
            .generics
            .params
            .iter()
            .filter_map(|param| match param {
                GenericParam::Const(param) => Some(&param.ident),
                _ => None,
            })
    }

    /// The attributes on the function (`#[inline]`, docs...).
    pub(crate) fn outer_attrs(&self) -> impl Iterator<Item = &'a Attribute> {
        self.item
            .attrs
            .iter()
            .filter(|attr| matches!(attr.style, syn::AttrStyle::Outer))
    }

    /// The `#![...]` attributes at the start of the body.
    pub(crate) fn inner_attrs(&self) -> impl Iterator<Item = &'a Attribute> {
        self.item
            .attrs
            .iter()
            .filter(|attr| matches!(attr.style, syn::AttrStyle::Inner(_)))
    }

    /// The signature with pattern arguments renamed to their identifier.
    pub(crate) fn signature(&self) -> Signature {
        let mut sig = self.item.sig.clone();
        let typed = sig.inputs.iter_mut().filter_map(|input| match input {
            FnArg::Typed(pat_type) => Some(pat_type),
            FnArg::Receiver(_) => None,
        });
        for (pat_type, arg) in typed.zip(&self.args) {
            if let Role::Pattern(ident) = &arg.role {
                *pat_type.pat = Pat::Ident(PatIdent {
                    attrs: Vec::new(),
                    by_ref: None,
                    mutability: None,
                    ident: ident.clone(),
                    subpat: None,
                });
            }
        }
        sig
    }
}

impl<'a> Arg<'a> {
    /// The argument's name, if it has one that `skip(...)` can use.
    pub(crate) fn name(&self) -> Option<&'a Ident> {
        match self.role {
            Role::Key(ident) | Role::Skipped(ident) => Some(ident),
            Role::Wildcard | Role::Pattern(_) => None,
        }
    }

    /// Whether the argument is hashed into the key (unless `key = ...` is set).
    pub(crate) fn is_key(&self) -> bool {
        matches!(self.role, Role::Key(_) | Role::Pattern(_))
    }
}

impl<'a> Role<'a> {
    fn of(pat_type: &'a PatType, index: usize, skip: &[Ident]) -> Self {
        match &*pat_type.pat {
            Pat::Ident(PatIdent {
                by_ref: None,
                subpat: None,
                ident,
                ..
            }) if skip.contains(ident) => Role::Skipped(ident),
            Pat::Ident(PatIdent {
                by_ref: None,
                subpat: None,
                ident,
                ..
            }) => Role::Key(ident),
            Pat::Wild(_) => Role::Wildcard,
            // At the pattern's span (and context), so that errors about it point there.
            pat => Role::Pattern(format_ident!("__cachetool_arg{}", index, span = pat.span())),
        }
    }
}

impl<'a> Output<'a> {
    fn of(ty: &'a Type) -> Self {
        if is_result(ty) {
            Output::Result(ty)
        } else {
            Output::Value(ty)
        }
    }

    /// The return type's span: where errors about it point.
    pub(crate) fn span(&self) -> proc_macro2::Span {
        match self {
            Output::Unit => proc_macro2::Span::call_site(),
            Output::Value(ty) | Output::Result(ty) => ty.span(),
        }
    }

    /// The return type as it would be written after `->`.
    pub(crate) fn ty(&self) -> proc_macro2::TokenStream {
        match self {
            Output::Unit => quote::quote!(()),
            Output::Value(ty) | Output::Result(ty) => quote::ToTokens::to_token_stream(ty),
        }
    }

    /// The type of what is stored: the return type, or the `T` of a
    /// `Result<T, E>` (its first type argument, as in `io::Result<T>`).
    pub(crate) fn stored_ty(&self) -> proc_macro2::TokenStream {
        match self {
            Output::Result(ty) => match first_type_argument(ty) {
                Some(ok) => quote::ToTokens::to_token_stream(ok),
                None => quote::quote!(<#ty as ::cachetool::__private::Outcome>::Stored),
            },
            Output::Unit | Output::Value(_) => self.ty(),
        }
    }
}

/// The identifiers a closure parameter's pattern binds.
fn pattern_idents(pat: &Pat) -> Vec<Ident> {
    struct Binder(Vec<Ident>);
    impl<'a> syn::visit::Visit<'a> for Binder {
        fn visit_pat_ident(&mut self, pat: &'a PatIdent) {
            self.0.push(pat.ident.clone());
            syn::visit::visit_pat_ident(self, pat);
        }
    }
    let mut binder = Binder(Vec::new());
    syn::visit::Visit::visit_pat(&mut binder, pat);
    binder.0
}

/// The first of `names` in `tokens` (as an identifier, at any depth), as it
/// is written there.
fn first_mention(tokens: proc_macro2::TokenStream, names: &[&Ident]) -> Option<Ident> {
    tokens.into_iter().find_map(|tree| match tree {
        proc_macro2::TokenTree::Ident(ident) => {
            names.iter().any(|name| **name == ident).then_some(ident)
        }
        proc_macro2::TokenTree::Group(group) => first_mention(group.stream(), names),
        proc_macro2::TokenTree::Punct(_) | proc_macro2::TokenTree::Literal(_) => None,
    })
}

/// `T` of `...::Result<T, ..>`.
fn first_type_argument(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Group(group) => first_type_argument(&group.elem),
        Type::Paren(paren) => first_type_argument(&paren.elem),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
                return None;
            };
            arguments.args.iter().find_map(|argument| match argument {
                syn::GenericArgument::Type(ty) => Some(ty),
                _ => None,
            })
        }
        _ => None,
    }
}

/// For a method rewritten by `#[async_trait]`: the `R` of its
/// `Pin<Box<dyn Future<Output = R> + .. + 'async_trait>>`, and the
/// `async move { .. }` inside its `Box::pin(..)` body. The `'async_trait`
/// lifetime only ever comes from that macro.
fn async_trait_parts(item: &ItemFn) -> Option<(&Type, &syn::ExprAsync)> {
    if item.sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &item.sig.output else {
        return None;
    };
    let boxed = only_type_argument(ty, "Pin")?;
    let Type::TraitObject(object) = only_type_argument(boxed, "Box")? else {
        return None;
    };
    let is_async_trait = object.bounds.iter().any(|bound| {
        matches!(bound, syn::TypeParamBound::Lifetime(lifetime) if lifetime.ident == "async_trait")
    });
    let output = object.bounds.iter().find_map(|bound| match bound {
        syn::TypeParamBound::Trait(bound) => future_output(&bound.path),
        _ => None,
    })?;
    let [syn::Stmt::Expr(syn::Expr::Call(call), None)] = item.block.stmts.as_slice() else {
        return None;
    };
    let syn::Expr::Path(function) = &*call.func else {
        return None;
    };
    let is_box_pin = function
        .path
        .segments
        .last()
        .is_some_and(|last| last.ident == "pin");
    match call.args.first() {
        Some(syn::Expr::Async(body)) if is_async_trait && is_box_pin && call.args.len() == 1 => {
            Some((output, body))
        }
        _ => None,
    }
}

/// `T` of a path type `...::{name}<T>`.
fn only_type_argument<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(path) = ty else { return None };
    let last = path
        .path
        .segments
        .last()
        .filter(|last| last.ident == name)?;
    let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    match arguments.args.first() {
        Some(syn::GenericArgument::Type(ty)) if arguments.args.len() == 1 => Some(ty),
        _ => None,
    }
}

/// `R` of `...::Future<Output = R>`.
fn future_output(path: &syn::Path) -> Option<&Type> {
    let last = path.segments.last().filter(|last| last.ident == "Future")?;
    let syn::PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    arguments.args.iter().find_map(|argument| match argument {
        syn::GenericArgument::AssocType(binding) if binding.ident == "Output" => Some(&binding.ty),
        _ => None,
    })
}

/// `Result<T, E>`, `io::Result<T>`, `anyhow::Result<T>`: a path whose last
/// segment is `Result` with angle-bracketed arguments.
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Group(group) => is_result(&group.elem),
        Type::Paren(paren) => is_result(&paren.elem),
        Type::Path(path) if path.qself.is_none() => path.path.segments.last().is_some_and(|last| {
            last.ident == "Result"
                && matches!(last.arguments, syn::PathArguments::AngleBracketed(_))
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use syn::parse_quote;

    use super::*;

    #[test]
    fn roles() {
        let item: ItemFn = parse_quote! {
            fn f(&self, a: u32, mut b: u32, _: u32, (c, d): (u32, u32), db: &Db, ref e: u32) {}
        };
        let skip = [parse_quote!(db)];
        let function = Function::new(&item, &skip);
        assert!(function.receiver.is_some());
        let roles: Vec<String> = function
            .args
            .iter()
            .map(|arg| match &arg.role {
                Role::Key(ident) => format!("key {ident}"),
                Role::Skipped(ident) => format!("skipped {ident}"),
                Role::Wildcard => "_".to_owned(),
                Role::Pattern(ident) => format!("pattern {ident}"),
            })
            .collect();
        assert_eq!(
            roles,
            [
                "key a",
                "key b",
                "_",
                "pattern __cachetool_arg3",
                "skipped db",
                "pattern __cachetool_arg5"
            ]
        );
        let sig = function.signature();
        assert_eq!(
            quote::quote!(#sig).to_string(),
            "fn f (& self , a : u32 , mut b : u32 , _ : u32 , __cachetool_arg3 : (u32 , u32) , db : & Db , __cachetool_arg5 : u32)"
        );
    }

    #[test]
    fn async_trait_methods_are_recognized_by_their_rewritten_shape() {
        let item: ItemFn = parse_quote! {
            fn get<'life0, 'async_trait>(&'life0 self, id: u64)
                -> ::core::pin::Pin<Box<dyn ::core::future::Future<Output = Result<u64, E>>
                    + ::core::marker::Send + 'async_trait>>
            where 'life0: 'async_trait, Self: 'async_trait
            {
                Box::pin(async move { let __self = self; let id = id; let __ret: Result<u64, E> = { Ok(id) }; __ret })
            }
        };
        let function = Function::new(&item, &[]);
        assert!(function.async_trait.is_some());
        assert!(matches!(function.output, Output::Result(_)));

        let boxed_future: ItemFn = parse_quote! {
            fn get(&self) -> Pin<Box<dyn Future<Output = u64> + Send + 'static>> { Box::pin(async move { 1 }) }
        };
        assert!(
            Function::new(&boxed_future, &[]).async_trait.is_none(),
            "not async_trait's: no 'async_trait bound"
        );
    }

    #[test]
    fn results() {
        for ty in [
            quote::quote!(Result<u32, E>),
            quote::quote!(io::Result<u32>),
            quote::quote!(::anyhow::Result<u32>),
        ] {
            let item: ItemFn = parse_quote!(fn f() -> #ty {});
            assert!(
                matches!(Function::new(&item, &[]).output, Output::Result(_)),
                "{ty}"
            );
        }
        for ty in [
            quote::quote!(Result),
            quote::quote!(Option<u32>),
            quote::quote!(()),
        ] {
            let item: ItemFn = parse_quote!(fn f() -> #ty {});
            assert!(
                matches!(Function::new(&item, &[]).output, Output::Value(_)),
                "{ty}"
            );
        }
        let item: ItemFn = parse_quote!(
            fn f() {}
        );
        assert!(matches!(Function::new(&item, &[]).output, Output::Unit));
    }
}
