//! Users of a tenant, and the caller's own profile (`/me`).

use super::failure;
use super::id::Id;
use super::page::{Paging, page};
use super::role_bindings::BindingDto;
use super::{ApiResult, Deletion, Gate, Tag};
use crate::http::problem::ApiError;
use crate::state::AppState;
use kernel::UserId;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use rbac::{Permission as P, Resource, delegation};
use time::OffsetDateTime;
use uuid::Uuid;

/// The operations on users.
pub struct UsersApi {
    pub state: AppState,
}

/// A user.
#[derive(Debug, Object)]
pub struct UserDto {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub platform_admin: bool,
    pub created_at: OffsetDateTime,
}

impl From<tenancy::User> for UserDto {
    fn from(u: tenancy::User) -> Self {
        Self {
            id: u.id.uuid(),
            tenant_id: u.tenant_id.uuid(),
            email: u.email,
            display_name: u.display_name,
            platform_admin: u.platform_admin,
            created_at: u.created_at,
        }
    }
}

page!(UserPage, UserDto);

/// Changes to a user.
#[derive(Debug, Object)]
pub struct UserPatch {
    #[oai(validator(min_length = 1, max_length = 200))]
    pub display_name: String,
}

/// The caller, as the API sees it.
#[derive(Debug, Object)]
pub struct MeDto {
    pub user: UserDto,
    pub bindings: Vec<BindingDto>,
}

#[OpenApi(tag = "Tag::Directory")]
impl UsersApi {
    /// The caller's own user record and role bindings.
    #[oai(path = "/me", method = "get", operation_id = "getMe")]
    async fn me(&self, gate: Gate) -> ApiResult<Json<MeDto>, failure::List> {
        gate.authenticated().await?;
        let user = self.state.tenancy.user(gate.who.user_id).await?;
        let bindings = self.state.rbac.repo().bindings(gate.tenant()).await?;
        let mine = bindings
            .into_iter()
            .filter(|b| b.user_id == gate.who.user_id)
            .map(BindingDto::from)
            .collect();
        Ok(Json(MeDto {
            user: user.into(),
            bindings: mine,
        }))
    }

    /// List the users the caller may see.
    #[oai(path = "/users", method = "get", operation_id = "listUsers")]
    async fn list_users(
        &self,
        gate: Gate,
        after: Query<Option<Uuid>>,
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))] limit: Query<Option<u32>>,
    ) -> ApiResult<Json<UserPage>, failure::List> {
        Paging::new(after.0, limit.0)
            .visible(
                &gate,
                P::UserRead,
                self.state.tenancy.repo().users(gate.tenant()),
                |u| Resource::User(u.id),
            )
            .await
            .map_err(Into::into)
    }

    /// Get a user.
    #[oai(path = "/users/:user_id", method = "get", operation_id = "getUser")]
    async fn get_user(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
    ) -> ApiResult<Json<UserDto>, failure::Read> {
        gate.authorize(P::UserRead, Resource::User(user_id.0.get()))
            .await?;
        Ok(Json(self.state.tenancy.user(user_id.0.get()).await?.into()))
    }

    /// Change a user's display name.
    #[oai(
        path = "/users/:user_id",
        method = "patch",
        operation_id = "updateUser"
    )]
    async fn update_user(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
        body: Json<UserPatch>,
    ) -> ApiResult<Json<UserDto>, failure::Update> {
        gate.authorize(P::UserUpdate, Resource::User(user_id.0.get()))
            .await?;
        Ok(Json(
            self.state
                .tenancy
                .update_user(user_id.0.get(), &body.0.display_name)
                .await?
                .into(),
        ))
    }

    /// Remove a user with its bindings, device scopes and tokens.
    #[oai(
        path = "/users/:user_id",
        method = "delete",
        operation_id = "removeUser"
    )]
    async fn remove_user(
        &self,
        gate: Gate,
        user_id: Path<Id<UserId>>,
    ) -> ApiResult<Deletion, failure::Delete> {
        let id = user_id.0.get();
        gate.authorize(P::UserRemove, Resource::User(id)).await?;
        if id == gate.who.user_id {
            return Err(ApiError::conflict(
                "you cannot remove yourself; ask another administrator",
            )
            .into());
        }
        let index = self.state.authz.index(gate.tenant()).await?;
        if let Err(e) = delegation::user_removal(&index, id) {
            return Err(gate
                .refuse(P::UserRemove, Resource::User(id), e)
                .await
                .into());
        }
        self.state.tenancy.repo().delete_user(id).await?;
        Ok(Deletion::Deleted)
    }
}
