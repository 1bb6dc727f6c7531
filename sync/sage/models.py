"""Sage 300 tables (EXTERNAL.md §1), as unmanaged models.

Sage owns these tables: we never migrate them. Queries always name the
tenant's alias (`Model.objects.using(sage_alias(tenant))`). The sandbox
creates them with the schema editor for its stand-in company.

Column names beyond EXTERNAL.md come from Sage's Application Object Model
(AOM) table pages (e.g. "AOM APIBH" = the AOM page of table APIBH, view
AP0021) and Sage's own field maps in its web-screens source
(Sage.CA.SBS.ERP.Sage300.Common.Models, `BaseInvoiceFields.cs`); each is
named where it is used. Tables only the sandbox uses say so.
"""
from django.db import models

from sync.sage.fields import (
    SageAmount,
    SageChar,
    SageDate,
    SageNumber,
    SageQty,
    SageSwitch,
    SageTime,
)


class SageTable(models.Model):
    AUDTDATE = SageDate("AUDTDATE")
    AUDTTIME = SageTime("AUDTTIME")
    AUDTUSER = SageChar("AUDTUSER", 8)
    AUDTORG = SageChar("AUDTORG", 6)

    class Meta:
        abstract = True
        managed = False
        app_label = "sync"


class OptionalFieldTable(SageTable):
    OPTFIELD = SageChar("OPTFIELD", 12)
    VALUE = SageChar("VALUE", 60)

    class Meta(SageTable.Meta):
        abstract = True


class APVEN(SageTable):
    VENDORID = SageChar("VENDORID", 12, primary_key=True)
    SHORTNAME = SageChar("SHORTNAME", 10)
    IDGRP = SageChar("IDGRP", 6)
    SWACTV = SageSwitch("SWACTV", default=1)
    SWHOLD = SageSwitch("SWHOLD")
    VENDNAME = SageChar("VENDNAME", 60)
    TEXTSTRE1 = SageChar("TEXTSTRE1", 60)
    TEXTSTRE2 = SageChar("TEXTSTRE2", 60)
    TEXTSTRE3 = SageChar("TEXTSTRE3", 60)
    TEXTSTRE4 = SageChar("TEXTSTRE4", 60)
    NAMECITY = SageChar("NAMECITY", 30)
    CODESTTE = SageChar("CODESTTE", 30)
    CODEPSTL = SageChar("CODEPSTL", 20)
    CODECTRY = SageChar("CODECTRY", 30)
    NAMECTAC = SageChar("NAMECTAC", 60)
    TEXTPHON1 = SageChar("TEXTPHON1", 30)
    EMAIL1 = SageChar("EMAIL1", 50)       # the contact's e-mail (FIELDS.md: ContactsEmail)
    EMAIL2 = SageChar("EMAIL2", 50)       # the vendor's e-mail (FIELDS.md: Email)
    CURNCODE = SageChar("CURNCODE", 3)
    TERMSCODE = SageChar("TERMSCODE", 6)
    # Tax group and the vendor's tax class per authority (live model column map:
    # CODETAXGRP = TaxGroup, TAXCLASS1..5 = TaxClassCode1..5).
    CODETAXGRP = SageChar("CODETAXGRP", 12)
    TAXCLASS1 = SageSwitch("TAXCLASS1", default=1)
    TAXCLASS2 = SageSwitch("TAXCLASS2", default=1)
    TAXCLASS3 = SageSwitch("TAXCLASS3", default=1)
    TAXCLASS4 = SageSwitch("TAXCLASS4", default=1)
    TAXCLASS5 = SageSwitch("TAXCLASS5", default=1)
    IDTAXREGI1 = SageChar("IDTAXREGI1", 20)
    IDTAXREGI2 = SageChar("IDTAXREGI2", 20)
    IDTAXREGI3 = SageChar("IDTAXREGI3", 20)
    IDTAXREGI4 = SageChar("IDTAXREGI4", 20)
    IDTAXREGI5 = SageChar("IDTAXREGI5", 20)
    BRN = SageChar("BRN", 20)

    class Meta(SageTable.Meta):
        db_table = "APVEN"


class APVGR(SageTable):
    """Vendor groups (AP0016 in Sage's Web API Endpoint Reference; SDK sample
    APVendorGroups.json): what a new vendor of the group starts with."""

    IDGRP = SageChar("IDGRP", 6, primary_key=True)
    TEXTDESC = SageChar("TEXTDESC", 60)
    CURNCODE = SageChar("CURNCODE", 3)
    TERMSCODE = SageChar("TERMSCODE", 6)
    CODETAXGRP = SageChar("CODETAXGRP", 12)

    class Meta(SageTable.Meta):
        db_table = "APVGR"


class APRDC(SageTable):
    """AP distribution codes (AP0005, table APRDC in Sage's Web API Endpoint
    Reference; SDK sample APDistributionCodes.json)."""

    IDDIST = SageChar("IDDIST", 6, primary_key=True)
    TEXTDESC = SageChar("TEXTDESC", 60)
    IDGLACCT = SageChar("IDGLACCT", 45)

    class Meta(SageTable.Meta):
        db_table = "APRDC"


class TXGRP(SageTable):
    """SANDBOX ONLY: a tax group's authorities in order, for the stand-in's tax
    calculation. The real Sage tax tables (TX0003 TXGRP, TX0004 TXRATE in the
    Endpoint Reference) have more columns; production never reads these."""

    pk = models.CompositePrimaryKey("GROUPID", "TTYPE")
    GROUPID = SageChar("GROUPID", 12)
    TTYPE = SageSwitch("TTYPE", default=2)  # 2 = purchases
    TAXAUTH1 = SageChar("TAXAUTH1", 12)
    TAXAUTH2 = SageChar("TAXAUTH2", 12)
    TAXAUTH3 = SageChar("TAXAUTH3", 12)
    TAXAUTH4 = SageChar("TAXAUTH4", 12)
    TAXAUTH5 = SageChar("TAXAUTH5", 12)

    class Meta(SageTable.Meta):
        db_table = "TXGRP"


class TXRATE(SageTable):
    """SANDBOX ONLY: an authority's purchase rates, by vendor (buyer) class and
    item class (ITEMRATE1..5); a withholding authority has negative rates."""

    pk = models.CompositePrimaryKey("AUTHORITY", "TTYPE", "BUYERCLASS")
    AUTHORITY = SageChar("AUTHORITY", 12)
    TTYPE = SageSwitch("TTYPE", default=2)
    BUYERCLASS = SageSwitch("BUYERCLASS", default=1)
    ITEMRATE1 = models.DecimalField(db_column="ITEMRATE1", max_digits=15, decimal_places=5, default=0)
    ITEMRATE2 = models.DecimalField(db_column="ITEMRATE2", max_digits=15, decimal_places=5, default=0)
    ITEMRATE3 = models.DecimalField(db_column="ITEMRATE3", max_digits=15, decimal_places=5, default=0)
    ITEMRATE4 = models.DecimalField(db_column="ITEMRATE4", max_digits=15, decimal_places=5, default=0)
    ITEMRATE5 = models.DecimalField(db_column="ITEMRATE5", max_digits=15, decimal_places=5, default=0)

    class Meta(SageTable.Meta):
        db_table = "TXRATE"


class APVENO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("VENDORID", "OPTFIELD")
    VENDORID = SageChar("VENDORID", 12)

    class Meta(SageTable.Meta):
        db_table = "APVENO"


class POPORH1(SageTable):
    PORHSEQ = SageNumber("PORHSEQ", 19, primary_key=True)
    PONUMBER = SageChar("PONUMBER", 22, unique=True)
    VDCODE = SageChar("VDCODE", 12)
    VDNAME = SageChar("VDNAME", 60)
    DATE = SageDate("DATE")
    EXPARRIVAL = SageDate("EXPARRIVAL")
    ISCOMPLETE = SageSwitch("ISCOMPLETE")
    DTCOMPLETE = SageDate("DTCOMPLETE")
    ONHOLD = SageSwitch("ONHOLD")
    PORTYPE = SageSwitch("PORTYPE", default=1)
    CURRENCY = SageChar("CURRENCY", 3)
    RATE = models.DecimalField(db_column="RATE", max_digits=15, decimal_places=7, default=1)
    EXTENDED = SageAmount("EXTENDED")
    DOCTOTAL = SageAmount("DOCTOTAL")
    DESCRIPTIO = SageChar("DESCRIPTIO", 60)
    COMMENT = SageChar("COMMENT", 250)
    REFERENCE = SageChar("REFERENCE", 60)
    RQNNUMBER = SageChar("RQNNUMBER", 22)
    TERMSCODE = SageChar("TERMSCODE", 6)
    FOBPOINT = SageChar("FOBPOINT", 60)
    TXEXCLUDE1 = SageSwitch("TXEXCLUDE1")
    TXEXCLUDE2 = SageSwitch("TXEXCLUDE2")
    TXEXCLUDE3 = SageSwitch("TXEXCLUDE3")
    TXEXCLUDE4 = SageSwitch("TXEXCLUDE4")
    TXEXCLUDE5 = SageSwitch("TXEXCLUDE5")

    class Meta(SageTable.Meta):
        db_table = "POPORH1"


class POPORH2(SageTable):
    PORHSEQ = SageNumber("PORHSEQ", 19, primary_key=True)
    ENTEREDBY = SageChar("ENTEREDBY", 8)
    BTCODE = SageChar("BTCODE", 6)
    BTDESC = SageChar("BTDESC", 60)
    BTADDRESS1 = SageChar("BTADDRESS1", 60)
    BTCITY = SageChar("BTCITY", 30)
    BTSTATE = SageChar("BTSTATE", 30)
    BTZIP = SageChar("BTZIP", 20)
    BTCOUNTRY = SageChar("BTCOUNTRY", 30)
    STCODE = SageChar("STCODE", 6)
    STDESC = SageChar("STDESC", 60)
    STADDRESS1 = SageChar("STADDRESS1", 60)
    STADDRESS2 = SageChar("STADDRESS2", 60)
    STCITY = SageChar("STCITY", 30)
    STSTATE = SageChar("STSTATE", 30)
    STZIP = SageChar("STZIP", 20)
    STCOUNTRY = SageChar("STCOUNTRY", 30)

    class Meta(SageTable.Meta):
        db_table = "POPORH2"


class POPORHO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("PORHSEQ", "OPTFIELD")
    PORHSEQ = SageNumber("PORHSEQ", 19)

    class Meta(SageTable.Meta):
        db_table = "POPORHO"


class POPORL(SageTable):
    pk = models.CompositePrimaryKey("PORHSEQ", "PORLREV")
    PORHSEQ = SageNumber("PORHSEQ", 19)
    PORLREV = SageNumber("PORLREV", 9)
    PORLSEQ = SageNumber("PORLSEQ", 19)
    ITEMNO = SageChar("ITEMNO", 24)
    ITEMDESC = SageChar("ITEMDESC", 60)
    LOCATION = SageChar("LOCATION", 6)
    ORDERUNIT = SageChar("ORDERUNIT", 10)
    SQORDERED = SageQty("SQORDERED")
    OQORDERED = SageQty("OQORDERED")
    OQRECEIVED = SageQty("OQRECEIVED")
    OQCANCELED = SageQty("OQCANCELED")
    OQOUTSTAND = SageQty("OQOUTSTAND")
    UNITCOST = models.DecimalField(db_column="UNITCOST", max_digits=19, decimal_places=6, default=0)
    EXTENDED = SageAmount("EXTENDED")
    COMPLETION = SageSwitch("COMPLETION", default=1)

    class Meta(SageTable.Meta):
        db_table = "POPORL"


class PORCPH1(SageTable):
    RCPHSEQ = SageNumber("RCPHSEQ", 19, primary_key=True)
    RCPNUMBER = SageChar("RCPNUMBER", 22)
    PONUMBER = SageChar("PONUMBER", 22)
    PORHSEQ = SageNumber("PORHSEQ", 19, default=0)
    VDCODE = SageChar("VDCODE", 12)
    DATE = SageDate("DATE")
    ISINVOICED = SageSwitch("ISINVOICED")
    ISCOMPLETE = SageSwitch("ISCOMPLETE")

    class Meta(SageTable.Meta):
        db_table = "PORCPH1"


class PORCPL(SageTable):
    pk = models.CompositePrimaryKey("RCPHSEQ", "RCPLREV")
    RCPHSEQ = SageNumber("RCPHSEQ", 19)
    RCPLREV = SageNumber("RCPLREV", 9)
    PORHSEQ = SageNumber("PORHSEQ", 19, default=0)
    PORLSEQ = SageNumber("PORLSEQ", 19, default=0)
    RQRECEIVED = SageQty("RQRECEIVED")

    class Meta(SageTable.Meta):
        db_table = "PORCPL"


class APIBC(SageTable):
    CNTBTCH = SageNumber("CNTBTCH", 9, primary_key=True)
    DATEBTCH = SageDate("DATEBTCH")
    BTCHDESC = SageChar("BTCHDESC", 60)
    BTCHTYPE = SageSwitch("BTCHTYPE", default=1)
    BTCHSTTS = SageSwitch("BTCHSTTS", default=1)

    class Meta(SageTable.Meta):
        db_table = "APIBC"


class APIBH(SageTable):
    """AP invoice entries (AOM APIBH, view AP0021).

    AMTINVCTOT is the document total *before* taxes and AMTGROSTOT the total
    including tax (Sage's field map BaseInvoiceFields: DocumentTotalBeforeTaxes
    = AMTINVCTOT, APDocumentTotalIncludingTax = AMTGROSTOT); AMTUNDISTR is
    what the lines plus tax leave undistributed (UndistributedAmount).
    """

    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    TEXTTRX = SageSwitch("TEXTTRX", default=1)
    PONBR = SageChar("PONBR", 22)
    INVCDESC = SageChar("INVCDESC", 60)
    INVCAPPLTO = SageChar("INVCAPPLTO", 22)       # Apply-to Document
    DATEINVC = SageDate("DATEINVC")
    CODECURN = SageChar("CODECURN", 3)
    SWMANRTE = SageSwitch("SWMANRTE")             # Rate Overridden
    EXCHRATEHC = models.DecimalField(db_column="EXCHRATEHC", max_digits=15, decimal_places=7, default=0)
    SWCALCTX = SageSwitch("SWCALCTX", default=1)  # Tax Amount Control: 0 Enter, 1 Calculate, 2 Distribute
    CODETAXGRP = SageChar("CODETAXGRP", 12)
    TAXCLASS1 = SageSwitch("TAXCLASS1", default=1)
    TAXCLASS2 = SageSwitch("TAXCLASS2", default=1)
    TAXCLASS3 = SageSwitch("TAXCLASS3", default=1)
    TAXCLASS4 = SageSwitch("TAXCLASS4", default=1)
    TAXCLASS5 = SageSwitch("TAXCLASS5", default=1)
    AMTTAX1 = SageAmount("AMTTAX1")
    AMTTAX2 = SageAmount("AMTTAX2")
    AMTTAX3 = SageAmount("AMTTAX3")
    AMTTAX4 = SageAmount("AMTTAX4")
    AMTTAX5 = SageAmount("AMTTAX5")
    AMTTAXTOT = SageAmount("AMTTAXTOT")
    AMTINVCTOT = SageAmount("AMTINVCTOT")
    AMTGROSTOT = SageAmount("AMTGROSTOT")
    AMTGROSDST = SageAmount("AMTGROSDST")         # Distributed Total Including Tax
    AMTUNDISTR = SageAmount("AMTUNDISTR")
    ERRENTRY = SageSwitch("ERRENTRY")

    class Meta(SageTable.Meta):
        db_table = "APIBH"


class APIBHO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM", "OPTFIELD")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)

    class Meta(SageTable.Meta):
        db_table = "APIBHO"


class APIBD(SageTable):
    pk = models.CompositePrimaryKey("CNTBTCH", "CNTITEM", "CNTLINE")
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTITEM = SageNumber("CNTITEM", 7)
    CNTLINE = SageNumber("CNTLINE", 5)
    IDDIST = SageChar("IDDIST", 6)
    TEXTDESC = SageChar("TEXTDESC", 60)
    IDGLACCT = SageChar("IDGLACCT", 45)
    # Item tax class per authority and the line's tax (AOM APIBD).
    TAXCLASS1 = SageSwitch("TAXCLASS1", default=1)
    TAXCLASS2 = SageSwitch("TAXCLASS2", default=1)
    TAXCLASS3 = SageSwitch("TAXCLASS3", default=1)
    TAXCLASS4 = SageSwitch("TAXCLASS4", default=1)
    TAXCLASS5 = SageSwitch("TAXCLASS5", default=1)
    AMTTOTTAX = SageAmount("AMTTOTTAX")
    AMTDIST = SageAmount("AMTDIST")

    class Meta(SageTable.Meta):
        db_table = "APIBD"


class APOBL(SageTable):
    """Posted documents (AOM APOBL, view AP0025): what Clear History's
    "deleted and posted batches" option leaves behind."""

    pk = models.CompositePrimaryKey("IDVEND", "IDINVC")
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    IDTRXTYPE = SageSwitch("IDTRXTYPE")
    TXTTRXTYPE = SageSwitch("TXTTRXTYPE", default=1)   # 1 invoice, 2 debit note, 3 credit note
    DATEINVC = SageDate("DATEINVC")
    CODECURN = SageChar("CODECURN", 3)
    EXCHRATEHC = models.DecimalField(db_column="EXCHRATEHC", max_digits=15, decimal_places=7, default=0)
    AMTINVCHC = SageAmount("AMTINVCHC")
    AMTDUEHC = SageAmount("AMTDUEHC")
    AMTDUETC = SageAmount("AMTDUETC")                  # amount due in the vendor's currency
    SWPAID = SageSwitch("SWPAID")
    CNTBTCH = SageNumber("CNTBTCH", 9, default=0)
    CNTITEM = SageNumber("CNTITEM", 7, default=0)

    class Meta(SageTable.Meta):
        db_table = "APOBL"


class APOBLO(OptionalFieldTable):
    """Open (posted) document optional fields (AOM APOBLO, view AP0403): where
    a posted invoice keeps its FOLIOCFD once Clear History removed its batch."""

    pk = models.CompositePrimaryKey("IDVEND", "IDINVC", "OPTFIELD")
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)

    class Meta(SageTable.Meta):
        db_table = "APOBLO"


class APBTA(SageTable):
    pk = models.CompositePrimaryKey("PAYMTYPE", "CNTBTCH")
    PAYMTYPE = SageChar("PAYMTYPE", 2)            # the Web API's BatchSelector (AOM APBTA)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    DATEBTCH = SageDate("DATEBTCH")
    BATCHDESC = SageChar("BATCHDESC", 60)
    BATCHSTAT = SageSwitch("BATCHSTAT", default=1)
    IDBANK = SageChar("IDBANK", 8)
    CODECURN = SageChar("CODECURN", 3)            # bank currency

    class Meta(SageTable.Meta):
        db_table = "APBTA"


class APTCR(SageTable):
    pk = models.CompositePrimaryKey("BTCHTYPE", "CNTBTCH", "CNTENTR")
    BTCHTYPE = SageChar("BTCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTENTR = SageNumber("CNTENTR", 7)
    IDVEND = SageChar("IDVEND", 12)
    DOCNBR = SageChar("DOCNBR", 22)
    IDRMIT = SageChar("IDRMIT", 24)
    DATERMIT = SageDate("DATERMIT")
    NAMERMIT = SageChar("NAMERMIT", 60)
    AMTRMIT = SageAmount("AMTRMIT")               # check amount in the bank's currency (AOM APTCR)
    AMTRMITTC = SageAmount("AMTRMITTC")           # check amount in the vendor's currency
    TEXTRMIT = SageChar("TEXTRMIT", 60)
    TXTRMITREF = SageChar("TXTRMITREF", 60)
    RMITTYPE = SageSwitch("RMITTYPE", default=1)
    ERRENTRY = SageSwitch("ERRENTRY")
    CODECURN = SageChar("CODECURN", 3)

    class Meta(SageTable.Meta):
        db_table = "APTCR"


class APTCRO(OptionalFieldTable):
    pk = models.CompositePrimaryKey("BTCHTYPE", "CNTBTCH", "CNTENTR", "OPTFIELD")
    BTCHTYPE = SageChar("BTCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTENTR = SageNumber("CNTENTR", 7)

    class Meta(SageTable.Meta):
        db_table = "APTCRO"


class APTCP(SageTable):
    pk = models.CompositePrimaryKey("BATCHTYPE", "CNTBTCH", "CNTRMIT", "CNTLINE")
    BATCHTYPE = SageChar("BATCHTYPE", 2)
    CNTBTCH = SageNumber("CNTBTCH", 9)
    CNTRMIT = SageNumber("CNTRMIT", 7)
    CNTLINE = SageNumber("CNTLINE", 5)
    IDVEND = SageChar("IDVEND", 12)
    IDINVC = SageChar("IDINVC", 22)
    DOCTYPE = SageSwitch("DOCTYPE", default=1)
    AMTPAYM = SageAmount("AMTPAYM")

    class Meta(SageTable.Meta):
        db_table = "APTCP"


class APPYM(SageTable):
    """Posted payments (AOM APPYM, view AP0029).

    Primary key: IDBANK, IDVEND, IDRMIT, LONGSERIAL, DATERMIT (a check number
    repeats across banks, vendors and years); CNTBTCH + CNTITEM name the payment
    entry it was posted from (AOM key "Bank Code / Batch Number").
    """

    pk = models.CompositePrimaryKey("IDBANK", "IDVEND", "IDRMIT", "LONGSERIAL", "DATERMIT")
    IDBANK = SageChar("IDBANK", 8)
    IDVEND = SageChar("IDVEND", 12)
    IDRMIT = SageChar("IDRMIT", 24)
    LONGSERIAL = SageNumber("LONGSERIAL", 19, default=0)
    DATERMIT = SageDate("DATERMIT")
    CODECURN = SageChar("CODECURN", 3)
    AMTRMITTC = SageAmount("AMTRMITTC")
    CNTBTCH = SageNumber("CNTBTCH", 9, default=0)
    CNTITEM = SageNumber("CNTITEM", 7, default=0)
    SWCHKCLRD = SageSwitch("SWCHKCLRD")           # 0 outstanding, 1 cleared, 2 reversed

    class Meta(SageTable.Meta):
        db_table = "APPYM"


SAGE_MODELS = (
    APVEN, APVENO, APVGR, APRDC, TXGRP, TXRATE, POPORH1, POPORH2, POPORHO, POPORL, PORCPH1, PORCPL,
    APIBC, APIBH, APIBHO, APIBD, APOBL, APOBLO, APBTA, APTCR, APTCRO, APTCP, APPYM,
)
