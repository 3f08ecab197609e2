"""What PDF/A forbids, taken out or refused: active content, external references, transparency, bad images."""

from __future__ import annotations

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, Stream

from pipeline.archival._pdfa_fonts import fix_font, page_resources
from pipeline.archival._xmp import SRGB_ICC, ActiveContentPolicy, FinishNotes, log
from pipeline.errors import VolumeError

_BAD_ACTIONS = {"/JavaScript", "/Launch", "/URI", "/GoToR", "/GoToE", "/ImportData", "/SubmitForm", "/ResetForm",
                "/Sound", "/Movie", "/Rendition", "/Hide", "/SetOCGState", "/Trans", "/GoTo3DView"}


def _action_is_bad(action: object) -> bool:
    """True if an action (or one in its /Next chain) is not a plain in-document GoTo/Named action."""
    seen = 0
    while isinstance(action, Dictionary) and seen < 64:
        if action.get("/S") in _BAD_ACTIONS or action.get("/S") not in ("/GoTo", "/Named", None):
            return True
        action = action.get("/Next")
        if isinstance(action, Array):
            return any(_action_is_bad(a) for a in action)
        seen += 1
    return False


def _strip(policy: ActiveContentPolicy, what: str, notes: FinishNotes, label: str) -> None:
    if policy == "refuse":
        raise VolumeError(f"{what}; PDF/A volumes may not carry it")
    notes.removed.append(what)
    log.warning("%s: removed %s", label, what)


def _clean_outline(item: object, policy: ActiveContentPolicy, notes: FinishNotes, label: str) -> None:
    count = 0
    while isinstance(item, Dictionary) and count < 100_000:
        if _action_is_bad(item.get("/A")):
            _strip(policy, f"outline item action {item.A.get('/S')}", notes, label)
            del item["/A"]
        if "/First" in item:
            _clean_outline(item.First, policy, notes, label)
        item = item.get("/Next")
        count += 1


def clean_document(pdf: Pdf, level: str, policy: ActiveContentPolicy, label: str, notes: FinishNotes) -> None:
    """Remove (or refuse, by ``policy``) what PDF/A forbids outside the page content: scripts, embedded files,
    actions, XFA forms, and (for 1b) page transparency groups."""
    root = pdf.Root
    names = root.get("/Names")
    if isinstance(names, Dictionary):
        for key in ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations"):
            if key in names:
                _strip(policy, f"document {key[1:]}", notes, label)
                del names[key]
    if "/OpenAction" in root and (_action_is_bad(root.OpenAction) if isinstance(root.OpenAction, Dictionary)
                                  else False):
        _strip(policy, "open action", notes, label)
        del root["/OpenAction"]
    for key in ("/AA", "/Perms", "/Collection", "/Requirements"):
        if key in root:
            _strip(policy, f"catalog {key[1:]}", notes, label)
            del root[key]
    if "/OCProperties" in root and level == "1b":
        raise VolumeError("optional content (layers) cannot be made PDF/A-1; flatten it when rendering")
    acro = root.get("/AcroForm")
    if isinstance(acro, Dictionary):
        for key in ("/XFA", "/NeedAppearances"):
            if key in acro:
                notes.removed.append(f"AcroForm {key[1:]}")
                del acro[key]
    if "/Outlines" in root:
        _clean_outline(root.Outlines.get("/First"), policy, notes, label)
    for n, page in enumerate(pdf.pages, start=1):
        obj = page.obj
        if "/AA" in obj:
            _strip(policy, f"page {n} additional actions", notes, label)
            del obj["/AA"]
        if level == "1b" and isinstance(obj.get("/Group"), Dictionary) and obj.Group.get("/S") == "/Transparency":
            del obj["/Group"]
            notes.fixed.append(f"page {n}: transparency group removed")
        annots = obj.get("/Annots")
        if not isinstance(annots, Array):
            continue
        keep = Array()
        for annot in annots:
            if not isinstance(annot, Dictionary):
                continue
            sub = annot.get("/Subtype")
            if sub in ("/FileAttachment", "/Sound", "/Movie", "/Screen", "/3D", "/RichMedia") or _action_is_bad(
                annot.get("/A")
            ):
                _strip(policy, f"page {n} {str(sub)[1:]} annotation", notes, label)
                continue
            if "/AA" in annot:
                _strip(policy, f"page {n} annotation additional actions", notes, label)
                del annot["/AA"]
            _fix_annotation(pdf, annot, n, notes)
            keep.append(annot)
        if len(keep) != len(annots):
            if len(keep):
                obj.Annots = keep
            else:
                del obj["/Annots"]


def _fix_annotation(pdf: Pdf, annot: Dictionary, page: int, notes: FinishNotes) -> None:
    """Print flag on, hidden flags off, and an appearance for every annotation that needs one."""
    flags = int(annot.get("/F", 0))
    fixed = (flags | 4) & ~(1 | 2 | 32 | 256)
    if fixed != flags:
        annot.F = fixed
        notes.fixed.append(f"page {page}: annotation flags {flags} -> {fixed}")
    if "/CA" in annot and float(annot.CA) != 1.0:
        annot.CA = 1.0
    if annot.get("/Subtype") in ("/Popup", "/Link") or "/AP" in annot:
        return
    rect = [float(v) for v in annot.get("/Rect", [0, 0, 0, 0])]
    form = pdf.make_stream(b"", Type=Name.XObject, Subtype=Name.Form,
                           BBox=[0, 0, abs(rect[2] - rect[0]), abs(rect[3] - rect[1])])
    annot.AP = Dictionary(N=form)
    notes.fixed.append(f"page {page}: empty appearance given to {annot.get('/Subtype')} annotation")


def _flatten_smask(pdf: Pdf, image: Stream, label: str) -> None:
    """Composite a soft-masked image onto white and store it without alpha (PDF/A-1 forbids soft masks)."""
    from PIL import Image

    try:
        base = pikepdf.PdfImage(image).as_pil_image()
        mask = pikepdf.PdfImage(image.SMask).as_pil_image().convert("L")
    except Exception as exc:
        raise VolumeError(f"{label}: soft-masked image cannot be decoded to flatten it: {exc}") from exc
    mode = "L" if base.mode in ("1", "L", "LA") else "RGB"
    base = base.convert(mode)
    if mask.size != base.size:
        mask = mask.resize(base.size)
    white = Image.new(mode, base.size, 255 if mode == "L" else (255, 255, 255))
    flat = Image.composite(base, white, mask)
    image.write(flat.tobytes(), filter=Name.FlateDecode)
    for key in ("/SMask", "/Decode", "/DecodeParms", "/Mask", "/SMaskInData"):
        if key in image:
            del image[key]
    image.ColorSpace = Name.DeviceGray if mode == "L" else Name.DeviceRGB
    image.BitsPerComponent = 8


def clean_resources(pdf: Pdf, level: str, notes: FinishNotes) -> None:
    """Bring every page's fonts, images and graphics states to what the PDF/A level allows."""
    done: set[tuple[int, int]] = set()
    for page, res in page_resources(pdf):
        label = f"page {page}"
        fonts = res.get("/Font")
        if isinstance(fonts, Dictionary):
            for _, font in fonts.items():
                if isinstance(font, Dictionary) and font.objgen not in done:
                    if font.objgen != (0, 0):
                        done.add(font.objgen)
                    fix_font(pdf, font, level, label, notes)
        gstates = res.get("/ExtGState")
        if isinstance(gstates, Dictionary):
            for gname, gs in gstates.items():
                _check_gstate(gs, level, f"{label} graphics state {gname}", notes)
        xobjects = res.get("/XObject")
        if not isinstance(xobjects, Dictionary):
            continue
        for xname, xobj in xobjects.items():
            if not isinstance(xobj, Stream):
                continue
            where = f"{label} XObject {xname}"
            sub = xobj.get("/Subtype")
            if sub == "/PS" or "/Ref" in xobj or "/OPI" in xobj:
                raise VolumeError(f"{where}: PostScript, reference or OPI XObjects are not allowed in PDF/A")
            if sub == "/Form":
                group = xobj.get("/Group")
                if level == "1b" and isinstance(group, Dictionary) and group.get("/S") == "/Transparency":
                    del xobj["/Group"]
                    notes.fixed.append(f"{where}: transparency group removed")
                continue
            if sub != "/Image" or xobj.objgen in done:
                continue
            if xobj.objgen != (0, 0):
                done.add(xobj.objgen)
            _fix_image(pdf, xobj, level, where, notes)


def _check_gstate(gs: object, level: str, where: str, notes: FinishNotes) -> None:
    if not isinstance(gs, Dictionary):
        return
    if "/TR" in gs:
        del gs["/TR"]
        notes.fixed.append(f"{where}: transfer function removed")
    if "/TR2" in gs and gs.TR2 != Name.Default:
        gs.TR2 = Name.Default
    if level != "1b":
        return
    smask = gs.get("/SMask")
    if smask is not None and smask != Name("/None"):
        raise VolumeError(f"{where}: soft mask in use; PDF/A-1 forbids transparency")
    for key in ("/CA", "/ca"):
        if key in gs and float(gs[key]) != 1.0:
            raise VolumeError(f"{where}: opacity {gs[key]} in use; PDF/A-1 forbids transparency")
    if "/BM" in gs and gs.BM not in (Name.Normal, Name.Compatible):
        raise VolumeError(f"{where}: blend mode {gs.BM} in use; PDF/A-1 forbids transparency")


def _filters(stream: Stream) -> list[object]:
    f = stream.get("/Filter")
    return list(f) if isinstance(f, Array) else ([f] if f is not None else [])


def _fix_image(pdf: Pdf, image: Stream, level: str, where: str, notes: FinishNotes) -> None:
    filters = _filters(image)
    if Name.JPXDecode in filters and level == "1b":
        raise VolumeError(f"{where}: JPEG 2000 is not allowed in PDF/A-1; encode the page as JPEG or CCITT G4")
    if Name.LZWDecode in filters:
        image.write(image.read_bytes(), filter=Name.FlateDecode)
        if "/DecodeParms" in image:
            del image["/DecodeParms"]
        notes.fixed.append(f"{where}: LZW re-encoded as Flate")
    if image.get("/Interpolate") is True or image.get("/Interpolate") == True:  # noqa: E712 (pikepdf Boolean)
        del image["/Interpolate"]
        notes.fixed.append(f"{where}: Interpolate removed")
    for key in ("/Alternates", "/OPI"):
        if key in image:
            del image[key]
            notes.fixed.append(f"{where}: {key[1:]} removed")
    if level == "1b" and "/SMask" in image:
        _flatten_smask(pdf, image, where)
        notes.fixed.append(f"{where}: soft mask flattened onto white")


def fix_text_strings(pdf: Pdf, notes: FinishNotes) -> None:
    """Re-encode page-label prefixes and outline titles written as raw UTF-8 (PyMuPDF does) as proper text strings."""

    def fix(holder: Dictionary, key: str, what: str) -> None:
        value = holder.get(key)
        if not isinstance(value, pikepdf.String):
            return
        raw = bytes(value)
        if raw.startswith((b"\xfe\xff", b"\xef\xbb\xbf")) or raw.isascii():
            return
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return
        holder[key] = pikepdf.String(text)
        notes.fixed.append(f"{what} re-encoded from raw UTF-8: {text}")

    labels = pdf.Root.get("/PageLabels")
    if isinstance(labels, Dictionary):
        nums = labels.get("/Nums", Array())
        for i in range(1, len(nums), 2):
            if isinstance(nums[i], Dictionary):
                fix(nums[i], "/P", "page label")
    outline = pdf.Root.get("/Outlines")

    def walk(item: object) -> None:
        while isinstance(item, Dictionary):
            fix(item, "/Title", "outline title")
            walk(item.get("/First"))
            item = item.get("/Next")

    if isinstance(outline, Dictionary):
        walk(outline.get("/First"))


def output_intent(pdf: Pdf) -> Dictionary:
    """The sRGB (ICC v2) OutputIntent every PDF/A volume carries."""
    try:
        icc = SRGB_ICC.read_bytes()
    except OSError as exc:
        raise VolumeError(f"sRGB ICC profile {SRGB_ICC} not readable (install icc-profiles-free): {exc}") from exc
    if icc[8] >= 4:
        raise VolumeError(f"{SRGB_ICC} is an ICC v{icc[8]} profile; PDF/A-1 needs ICC v2")
    profile = pdf.make_stream(icc, N=3)
    return pdf.make_indirect(Dictionary(
        Type=Name.OutputIntent, S=Name.GTS_PDFA1,
        OutputConditionIdentifier=pikepdf.String("sRGB IEC61966-2.1"),
        Info=pikepdf.String("sRGB IEC61966-2.1"), RegistryName=pikepdf.String("http://www.color.org"),
        DestOutputProfile=profile,
    ))
