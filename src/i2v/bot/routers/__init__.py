"""One router per feature; :func:`i2v.bot.factory.build_dispatcher` includes them in this order."""
