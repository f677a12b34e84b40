"""The CLI's commands, one module each: ``add_arguments(parser)`` adds the command's options and
sets ``func(args) -> exit code``; the module's docstring is the command's ``--help``. A command
parses arguments, builds the stages' configs and calls a library function or a pipeline; it never
loops over data itself. The dispatcher, ``reenact.cli``, lists them in ``COMMANDS``; the shared
options are in ``reenact.commands.options``. Commands never import each other.
"""
