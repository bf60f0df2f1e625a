"""Instance-wide settings the admin changes at run time, and usage accounting."""
