"""The control plane: one method per AWS operation (authorize, validate, persist, schedule)."""

from sagebox.control.authorize import Authorizer, Principal, RootOnlyAuthorizer
from sagebox.control.plane import ControlPlane

__all__ = ["Authorizer", "ControlPlane", "Principal", "RootOnlyAuthorizer"]
