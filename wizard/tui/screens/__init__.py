"""The wizard's steps, one screen each, in the order the user meets them. Screens are thin:
they read and write the core session's draft answers and call the core (wizard.pipeline and the
modules it uses); long work runs in thread workers."""
