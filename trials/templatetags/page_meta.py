"""`{% capture as name %}...{% endcapture %}`: render the enclosed template once and keep it as `name`, whitespace
collapsed, so that base.html can say a page's title and description (blocks the pages fill) in several places:
<title>, the description, and the Open Graph and Twitter tags of a shared link."""

from django import template
from django.conf import settings
from django.utils.safestring import mark_safe

register = template.Library()


class CaptureNode(template.Node):
    child_nodelists = ("nodelist",)  # so that the blocks inside are found, and filled, by the pages that extend

    def __init__(self, nodelist, name):
        self.nodelist, self.name = nodelist, name

    def render(self, context):
        # Rendered as any template text is (escaped), so safe to show as it is.
        context[self.name] = mark_safe(" ".join(self.nodelist.render(context).split()))  # noqa: S308
        return ""


@register.tag
def capture(parser, token):
    bits = token.split_contents()
    if len(bits) != 3 or bits[1] != "as":
        raise template.TemplateSyntaxError("Use {% capture as name %}...{% endcapture %}.")
    nodelist = parser.parse(("endcapture",))
    parser.delete_first_token()
    return CaptureNode(nodelist, bits[2])


@register.simple_tag
def site_url():
    """SITE_URL: the site's public address, for absolute links in cached pages (not the asking host's)."""
    return settings.SITE_URL
