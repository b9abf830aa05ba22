"""Problems to run the methods on: `Problem` (a user's model), the built-in models and the zoo."""
