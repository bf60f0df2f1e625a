"""Instance-wide settings the admin changes at run time (the models the picker offers)."""
