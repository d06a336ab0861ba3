"""Users and their libraries: accounts and sessions, saved and tagged papers, votes and submissions."""

from .accounts import (AccountError, Accounts, check_email, hash_password, verify_password)
from .community import CommunityError, submit_paper, vote
from .curation import CurationError
from .shelf import (ImportReport, LibraryError, import_bibtex, import_library, mark_not_relevant, remove_item,
                    save_item)

__all__ = ["AccountError", "Accounts", "CommunityError", "CurationError", "ImportReport", "LibraryError", "check_email",
           "hash_password", "import_bibtex", "import_library", "mark_not_relevant", "remove_item", "save_item",
           "submit_paper", "verify_password", "vote"]
